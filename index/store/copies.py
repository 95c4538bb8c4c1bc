"""Each generation's files on this host: what a searcher needs of it, in a form a process opens without parsing.

Chroma stays the store of record; these are a copy of one generation, made by the build that writes it (before it
switches) or, on a host that lacks them, by the first process that loads the generation, from Chroma. One folder per
generation, named by its number and a hash of its pointer (a store wiped and built again reuses numbers, never the
hash). A copy is written into a staging folder, with a manifest holding every file's sha256, and renamed into place
in one step: a folder under its final name is complete. Opening a copy checks every file against the manifest;
a missing or damaged one is reported as None, and the caller makes it again from Chroma.

Where: CHROMA_PATH's own folder name with `.generations` beside it for the embedded store (Chroma owns the folder
itself), `data/generations` for a Chroma server (each host keeps its own); GENERATIONS_PATH overrides both. What
the files hold is index/search/snapshot.py's business; this module only writes, checks and deletes them.
"""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from index.store.pointer import Pointer

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STAGING = ".staging-"
READ_BLOCK = 1 << 20


def folder_name(pointer: Pointer) -> str:
    """The generation's folder: its number, and a hash of what identifies it (not of its bar, which the build
    adds to the pointer after the files are written)."""
    identity = json.dumps([pointer.collection, pointer.generation, pointer.model, pointer.built_at, pointer.built_by,
                           pointer.chunks])
    return f"g{pointer.generation:08d}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


def _generation_of(name: str) -> int | None:
    head = name.split("-", 1)[0]
    return int(head[1:]) if head.startswith("g") and head[1:].isdigit() else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class Copies:
    """The generations' folders under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: set[Path] = set()  # folders this process wrote and hashed: opening them checks no hash again

    def folder(self, pointer: Pointer) -> Path:
        return self.root / folder_name(pointer)

    def write(self, pointer: Pointer, fill: Callable[[Path], None]) -> Path:
        """Makes the generation's folder: `fill` writes its files into a staging folder, which gets a manifest of
        their hashes and is renamed into place. A complete folder already there (another process made it) stays."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f"{STAGING}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            fill(staging)
            files = sorted(p for p in staging.rglob("*") if p.is_file())
            manifest = {"pointer": folder_name(pointer),
                        "files": {p.relative_to(staging).as_posix(): file_sha256(p) for p in files}}
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            target = self.folder(pointer)
            if target.exists() and self.check(target) is None:
                return target
            with contextlib.suppress(FileNotFoundError):
                target.rename(self.root / f"{STAGING}{os.getpid()}-damaged-{uuid.uuid4().hex[:8]}")
            staging.rename(target)
            self._written.add(target)
            return target
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            for damaged in self.root.glob(f"{STAGING}{os.getpid()}-damaged-*"):
                shutil.rmtree(damaged, ignore_errors=True)

    def open(self, pointer: Pointer) -> Path | None:
        """The generation's folder, every file checked against its manifest; None when it is missing or damaged
        (then logged, once per call)."""
        folder = self.folder(pointer)
        if not folder.is_dir():
            return None
        problem = self.check(folder) if folder not in self._written else None
        if problem is not None:
            log.warning("the files of generation %d at %s are damaged (%s): making them again from Chroma",
                        pointer.generation, folder, problem)
            return None
        return folder

    @staticmethod
    def check(folder: Path) -> str | None:
        """What is wrong with a folder, or None when every file its manifest lists has the hash it lists."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest["pointer"] != folder.name:
                return f"its manifest is for {manifest['pointer']}"
            for name, expected in manifest["files"].items():
                if file_sha256(folder / name) != expected:
                    return f"{name} does not match its hash"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def keep_only(self, pointers: Iterable[Pointer | None], *, below: int | None = None) -> None:
        """Deletes the folders of generations other than `pointers`' (only those numbered below `below`, when
        given: a reader leaves alone what a build on this host may be writing), and staging folders of processes
        that are gone."""
        if not self.root.is_dir():
            return
        kept = {folder_name(p) for p in pointers if p is not None}
        for entry in self.root.iterdir():
            if entry.name.startswith(STAGING):
                if not _running(entry.name[len(STAGING):].split("-", 1)[0]):
                    shutil.rmtree(entry, ignore_errors=True)
                continue
            number = _generation_of(entry.name)
            if number is None or entry.name in kept or (below is not None and number >= below):
                continue
            log.info("deleting the files of generation %d (%s), which no live or previous index uses",
                     number, entry.name)
            shutil.rmtree(entry, ignore_errors=True)


def _running(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
