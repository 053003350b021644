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
    "xxhash==3.5.0",  # the fast shingle hash for MinHash, exact dedup and decontamination
    "openai>=1.40,<4",
    "magika==1.0.3",
    "psutil>=5.9",
    "matplotlib>=3.8",  # the PNG plots of `python -m pipeline inspect`
    "PyYAML>=6.0",
    "numpy>=1.26",
    # Beam's BigQuery client: without it every process (each local worker too) logs "apitools not found" at import,
    # and that first warning gives the worker a stderr handler that then prints every harness INFO line.
    # The same pins as apache-beam[gcp], so the Dataflow extra installs over it.
    "google-apitools>=0.5.31,<0.5.32; python_version < '3.13'",
    "google-apitools>=0.5.35; python_version >= '3.13'",
]

EXTRAS = {
    # datasets, duckdb and polars: the tests check that every reader trainers use opens the output;
    # Pygments renders real gutter markup in the code-block tests; import-linter keeps the layers one-way
    "dev": ["pytest>=8", "ruff>=0.6", "import-linter>=2.1", "datasets>=3", "duckdb>=1.1", "polars>=1.10",
            "Pygments>=2.17"],
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
    packages=find_packages(include=["ledger*", "pipeline*", "transforms*", "prompts*", "dedup*", "sandbox*",
                                    "models"]),
    package_data={"prompts": ["templates/*.yaml", "taxonomy.yaml"], "dedup": ["benchmarks/*"],
                  "models": ["*.ftz", "*.json", "*.jsonl", "README.md"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["syncode=pipeline.cli:main"]},
)
