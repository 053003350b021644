"""The launcher's view of vLLM: the process machinery lives in transforms/vllm_process.py, where the workers'
servers (transforms/worker_server.py) use it too."""

from transforms.vllm_process import (  # noqa: F401 - re-exported for the launcher and the benches
    REPO_VLLM_GPU_VENV,
    REPO_VLLM_VENV,
    STRUCTURED_OUTPUTS,
    ServerError,
    VLLMChoice,
    VLLMServer,
    choose_vllm,
    free_port,
    gpu_visible,
    has_gpu,
    models_ready,
    server_args,
    vllm_python,
)
