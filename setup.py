"""Install syncode. The same file is what `--setup_file ./setup.py` stages to Dataflow workers."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent

# Tested pins: the versions the test suite and the benchmarks ran with.
INSTALL_REQUIRES = [
    "apache-beam==2.77.0",
    "pyarrow>=16,<26",
    "warcio==1.8.1",
    "resiliparse==2.0.1",  # the fast first-pass HTML-to-text
    "trafilatura==2.3.1",
    "lxml>=5.2",  # ExtractCodePage reads code blocks from the DOM itself
    "lxml_html_clean>=0.4.2",  # trafilatura imports it; pip 23 does not pull it in by itself
    "charset-normalizer>=3.3",
    "fasttext-numpy2==0.10.4",
    "datasketch==2.0.0",
    "openai>=1.40,<4",
    "magika==1.0.3",
    "psutil>=5.9",
    "PyYAML>=6.0",
    "numpy>=1.26",
]

EXTRAS = {
    "dev": ["pytest>=8", "ruff>=0.6", "Pygments>=2.17"],  # Pygments renders real gutter markup in tests
    "bench": ["datatrove==0.10.1", "selectolax==1.0.2"],
    "gcp": ["apache-beam[gcp]==2.77.0"],
}

setup(
    name="syncode",
    version="0.1.0",
    description="A Beam pipeline that grows a code instruction corpus from Common Crawl with vLLM-served LLMs.",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["pipeline*", "transforms*", "prompts*", "dedup*"]),
    package_data={"prompts": ["templates/*.yaml"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["syncode=pipeline.cli:main"]},
)
