"""Find and load the bundled fastText models, so a job run from any directory or an installed package finds them."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class ModelNotFoundError(FileNotFoundError):
    """A model path that does not exist where the config says, with the places looked in."""


def resolve_model_path(path: str) -> str:
    """An absolute or remote path as given; a relative one against the working directory, then the repo root."""
    if "://" in path or Path(path).is_absolute():
        return path
    for base in (Path.cwd(), REPO_ROOT):
        candidate = base / path
        if candidate.exists():
            return str(candidate)
    raise ModelNotFoundError(f"model file {path!r} not found in {Path.cwd()} or {REPO_ROOT}")


def load_fasttext(path: str):
    """A fastText model from a local or remote (gs://, s3://) path; remote files are copied to a temp file first."""
    from fasttext.FastText import _FastText

    resolved = resolve_model_path(path)
    if "://" in resolved:
        import tempfile

        from apache_beam.io.filesystems import FileSystems

        suffix = Path(resolved).suffix
        with FileSystems.open(resolved) as src, tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as dst:
            dst.write(src.read())
            resolved = dst.name
    return _FastText(model_path=resolved)  # the class directly: load_model() prints a deprecation warning
