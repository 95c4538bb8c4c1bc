"""The ONNX export of the embedding model, checked against sentence-transformers: the only torch a question needs.

It runs once per model hash: in `python -m index build` (which has the model loaded anyway), in
`python -m index export`, or in a child of a bot or `bot ask` process that found no export. The graph is the
model's transformer (token embeddings out); pooling and normalisation stay outside it, done by
index/model/onnx_model.py as the model's Pooling module (modules.json, 1_Pooling/config.json) says.

The export is checked on the corpus's passages, the background questions and any question files given:
each text is embedded by sentence-transformers and by the export, in batches and one at a time, and every
cosine must be at least MIN_COSINE. The result is recorded in the manifest, so a mismatch is found once.
"""

import json
import logging
import shutil
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

from index.ingest.chunking import chunk_document
from index.ingest.corpus import CorpusError, load_document, read_metadata, source_paths
from index.model.background import BACKGROUND_QUESTIONS
from index.model.embedding import DeferredEmbedder, SentenceTransformerEmbedder
from index.model.onnx_model import (
    GRAPH_FILE,
    POOLING_MODES,
    TOKENIZER_FILE,
    VOCABULARY_FILE,
    ExportError,
    Manifest,
    OnnxEmbedder,
    export_folder,
    export_lock,
    model_folder,
    modules_of,
    read_manifest,
    write_manifest,
)
from index.settings import IndexSettings

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
WEIGHTS_FILE = "model.onnx.data"
# Measured on two cores: 11 to 13 s on a quiet machine, 40 to 48 s on a busy one; loading torch is most of it.
EXPORT_TAKES = "from 10 s to a minute, as busy as the machine is"

Reference = SentenceTransformerEmbedder | DeferredEmbedder
Say = Callable[[str], None]


class Unsupported(Exception):
    """The model has a module or setting the ONNX path does not reproduce."""


def corpus_passages(seeds_dir: Path) -> list[str]:
    """The passages the corpus would be indexed as; what cannot be read is left out."""
    try:
        metadata, paths = read_metadata(seeds_dir), source_paths(seeds_dir)
    except CorpusError:
        return []
    passages = []
    for path in paths:
        try:
            passages += [c.text for c in chunk_document(load_document(path, metadata.get(path.name, {})))]
        except (CorpusError, OSError):
            continue
    return passages


def question_file(path: Path) -> list[str]:
    """Questions from a file: JSON Lines with a "question" field (as the evaluation sets), or one per line."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        questions.append(str(record["question"]) if isinstance(record, dict) and "question" in record else line)
    return questions


def pooling_mode(folder: Path) -> str:
    """The one pooling mode the model's modules name: Transformer, then Pooling, then optionally Normalize."""
    modules = modules_of(folder)
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise Unsupported(f"its modules are {kinds}; only Transformer, Pooling and Normalize can be exported")
    try:
        config = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Unsupported(f"its pooling configuration cannot be read: {exc}") from exc
    modes = [key.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
             for key, on in config.items() if key.startswith("pooling_mode_") and on is True]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise Unsupported(f"its pooling is {modes or 'unspecified'}; only one of {', '.join(POOLING_MODES)} is")
    return modes[0]


def _export_graph(reference: SentenceTransformerEmbedder, pooling: str, target: Path) -> Manifest:
    """Writes the graph and the tokenizer into `target`; returns the manifest, not yet checked."""
    import onnx
    import torch

    tokenizer = reference.model.tokenizer
    if tokenizer is None or tokenizer.pad_token is None or tokenizer.pad_token_id is None:
        raise Unsupported("its tokenizer has no padding token")
    max_seq_length = reference.model.max_seq_length
    if max_seq_length is None:
        raise Unsupported("it sets no maximum sequence length")
    names = [n for n in INPUT_NAMES if n in tokenizer.model_input_names]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise Unsupported(f"its tokenizer gives {tokenizer.model_input_names}, not input ids and an attention mask")
    transformer = cast(Any, reference.model[0]).model
    vocabulary = transformer.get_input_embeddings()
    vocabulary.weight.detach().numpy().astype("<f4").tofile(target / VOCABULARY_FILE)

    class TokenEmbeddings(torch.nn.Module):
        """The transformer from input embeddings on: the vocabulary lookup is done outside the graph."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, inputs_embeds: Any, *rest: Any) -> Any:
            return self.transformer(inputs_embeds=inputs_embeds,
                                    **dict(zip(names[1:], rest, strict=True))).last_hidden_state

    # Two texts of different lengths, so the traced graph sees padding and a masked batch.
    sample = tokenizer(["Dossier", "Quotes from the corpus, with their sources."], padding=True,
                       return_tensors="pt")
    inputs = ["inputs_embeds", *names[1:]]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = target / "traced.onnx"
        try:
            torch.onnx.export(TokenEmbeddings().eval(), (vocabulary(sample["input_ids"]),
                                                         *(sample[n] for n in names[1:])),
                              str(traced), input_names=inputs, output_names=["token_embeddings"],
                              opset_version=OPSET, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*inputs, "token_embeddings"]})
        except Exception as exc:  # whatever the tracer or the exporter meets, this model is not exportable
            raise Unsupported(f"torch.onnx.export failed: {exc}") from exc
    # Weights in a file of their own, which onnxruntime maps instead of copying into the process.
    onnx.save_model(onnx.load(str(traced)), str(target / GRAPH_FILE), save_as_external_data=True,
                    location=WEIGHTS_FILE)
    traced.unlink()
    tokenizer.backend_tokenizer.save(str(target / TOKENIZER_FILE))
    return Manifest(status="unchecked", pooling=pooling, max_seq_length=int(max_seq_length),
                    pad_id=int(tokenizer.pad_token_id), pad_token=str(tokenizer.pad_token),
                    width=int(vocabulary.weight.shape[1]),
                    dimension=reference.dimension, exported_at=datetime.now(UTC).isoformat(timespec="seconds"))


def check(reference: SentenceTransformerEmbedder, folder: Path, manifest: Manifest, texts: list[str],
          say: Say = log.info) -> Manifest:
    """Compares the export with sentence-transformers on `texts`; the manifest with the outcome."""
    candidate = OnnxEmbedder(folder, manifest, reference.name)
    say(f"  embedding {len(texts)} texts with sentence-transformers…")
    expected = reference.encode(texts)
    say("  embedding them with the ONNX export, in batches, then one at a time…")
    batched = np.sum(expected * candidate.encode(texts), axis=1)
    alone = np.sum(expected * np.concatenate([candidate.encode([t]) for t in texts]), axis=1)
    cosines = np.minimum(batched, alone)
    worst = int(np.argmin(cosines))
    lowest = float(cosines[worst])
    status = "ok" if lowest >= MIN_COSINE else "mismatch"
    reason = "" if status == "ok" else (
        f"the ONNX export of {reference.name} differs from sentence-transformers: cosine {lowest:.6f} < "
        f"{MIN_COSINE} on {texts[worst][:80]!r}")
    return replace(manifest, status=status, reason=reason, checked=len(texts), min_cosine=round(lowest, 7),
                   worst_text=texts[worst][:200])


def ensure_export(settings: IndexSettings, reference: Reference | None = None, extra_texts: Iterable[str] = (),
                  retry: bool = False, say: Say = log.info) -> tuple[Path, Manifest]:
    """The model's export folder and manifest, exporting and checking it first if there is none.

    A good export is checked again when `extra_texts` are given (with them); with `retry`, an export that
    failed or did not match is made again. `reference` is the sentence-transformers model, loaded only if it
    is needed; `say` tells what a long step is doing. Raises ExportError when the model's files cannot be found.
    """
    name = settings.embedding_model
    model = reference or DeferredEmbedder(name)
    extra = list(extra_texts)
    folder = export_folder(settings)
    with export_lock(folder):
        manifest = read_manifest(folder)
        if manifest is not None and not (extra if manifest.status == "ok" else retry):
            return folder, manifest
        texts = [*corpus_passages(settings.seeds_dir), *BACKGROUND_QUESTIONS, *extra]
        started = time.monotonic()
        if manifest is not None and manifest.status == "ok":
            say(f"Checking the ONNX export of {name} against sentence-transformers on {len(texts)} texts…")
            manifest = check(_loaded(model), folder, manifest, texts, say)
            write_manifest(folder, manifest)
        else:
            say(f"Exporting {name} to ONNX, once per model, so that questions are embedded without torch; it "
                f"takes {EXPORT_TAKES}…")
            manifest = _export(name, model, folder, texts, say)
        say(f"Done in {time.monotonic() - started:.0f} s: {describe(manifest)}")
    log.info("ONNX export of %s in %s: %s", name, folder, describe(manifest))
    return folder, manifest


def _loaded(reference: Reference) -> SentenceTransformerEmbedder:
    return reference.reference() if isinstance(reference, DeferredEmbedder) else reference


def _export(name: str, reference: Reference, folder: Path, texts: list[str], say: Say) -> Manifest:
    """Exports and checks in a folder beside `folder`, then moves it into place; a model that cannot be
    exported gets a folder with only its manifest, so the next process does not try again."""
    shutil.rmtree(folder, ignore_errors=True)
    target = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        pooling = pooling_mode(model_folder(name))
        model = _loaded(reference)
        say("  tracing the transformer into an ONNX graph…")
        manifest = check(model, target, _export_graph(model, pooling, target), texts, say)
    except (Unsupported, ExportError) as exc:
        manifest = Manifest(status="unsupported", reason=f"{name} cannot be exported to ONNX: {exc}")
    write_manifest(target, manifest)
    target.rename(folder)
    return manifest


def describe(manifest: Manifest) -> str:
    if manifest.status == "ok":
        return (f"matches sentence-transformers (lowest cosine {manifest.min_cosine:.7f} over "
                f"{manifest.checked} texts)")
    return manifest.reason
