"""`python -m index export`: the embedding model exported to ONNX for torch-free questions, and checked against
sentence-transformers, on question files given with --check too."""

import argparse
import sys
from pathlib import Path

from index.commands.loading import announced_load, say_on_stderr
from index.model.embedding import DeferredEmbedder, ModelError
from index.model.onnx_model import ExportError
from index.settings import IndexSettings


def export(settings: IndexSettings, check_files: list[Path]) -> int:
    """`python -m index export`: exports the model to ONNX unless it has a good export; 0 when it matches."""
    from index.model.onnx_export import describe, ensure_export, question_file

    try:
        extra = [q for path in check_files for q in question_file(path)]
        folder, manifest = ensure_export(settings, DeferredEmbedder(settings.embedding_model, announced_load),
                                         extra_texts=extra, retry=True, say=say_on_stderr)
    except (ExportError, ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX export of {settings.embedding_model} in {folder}: {describe(manifest)}")
    return 0 if manifest.status == "ok" else 1


def question_file_argument(text: str) -> Path:
    """A question file given to --check: refused at once, with the reason, when it cannot be read."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file" if path.exists() else f"there is no file {text}")
    try:
        path.read_text(encoding="utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text} is not UTF-8 text (byte {exc.start})") from exc
    return path
