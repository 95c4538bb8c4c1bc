"""What a build tells while it runs (Progress) and once it is done (BuildReport), and why it was not switched to."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from index.builds.moderator_checks import CheckReport


@dataclass(frozen=True)
class Progress:
    """Where a build is: `stage` is "reading", "embedding", "writing", "corroborating", "saving", "validating" or
    "checking"."""

    stage: str
    done: int
    total: int


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class Reason:
    """A reason not to switch to what a build made: `code` for programs, `message` for people."""

    code: str
    message: str


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    removed: int = 0
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    unattributed: list[dict[str, Any]] = field(default_factory=list)  # {"source", "missing": [field, ...]}
    generation: int = 0
    switched: bool = False
    reasons: list[Reason] = field(default_factory=list)
    forced: bool = False
    took_over: str | None = None
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    checks: CheckReport | None = None  # None when no checks ran (no checks.toml, or nothing to switch to)
    corroboration: dict[str, Any] | None = None  # {"bar", "passages", "judged"}, once the build found them
    model_seconds: float = 0.0  # of `seconds`, loading the embedding model (0: not loaded)

    @property
    def held(self) -> bool:
        """Not switched, for the reasons given."""
        return bool(self.reasons) and not self.switched

    def to_json(self) -> dict[str, Any]:
        report = {"documents": self.documents, "chunks": self.chunks, "embedded": self.embedded,
                  "removed": self.removed, "unchanged": self.unchanged, "added": self.added,
                  "changed": self.changed, "errors": self.errors, "warnings": self.warnings,
                  "unattributed": self.unattributed,
                  "generation": self.generation, "switched": self.switched,
                  "reasons": [{"code": r.code, "message": r.message} for r in self.reasons], "forced": self.forced,
                  "took_over": self.took_over, "seconds": round(self.seconds, 3),
                  "model_seconds": round(self.model_seconds, 3),
                  "stages": {k: round(v, 3) for k, v in self.stages.items()},
                  "checks": None if self.checks is None else self.checks.to_json(),
                  "corroboration": self.corroboration}
        return report

    def timing(self) -> str:
        """How many passages were embedded, and what the build's time went to: "0 passages embedded in 21 s" read
        as slow embedding, where the model's loading took the time."""
        took = f"{self.embedded} passages embedded; the build took {self.seconds:.1f} s"
        return took + (f", {self.model_seconds:.1f} s of it loading the embedding model" if self.model_seconds else "")

    def force_note(self, force: bool) -> str | None:
        """What `force` changed, when it changed nothing; None when it was not asked for or switched the build."""
        if not force or self.forced:
            return None
        if not self.switched:
            return "forced nothing: nothing changed, so there was nothing to switch to"
        return "forced nothing: no reason held this build back"


class StageClock:
    """Wall time per stage, for the report."""

    def __init__(self, report: BuildReport) -> None:
        self._report = report
        self._mark = time.monotonic()

    def end(self, stage: str) -> None:
        now = time.monotonic()
        self._report.stages[stage] = self._report.stages.get(stage, 0.0) + now - self._mark
        self._mark = now
