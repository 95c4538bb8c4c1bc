"""Why a build is not switched to: the seeds folder looks mistyped or emptied, or the new index fails moderators'
checks that the live one passes; and which sources lack an outlet, a date or a url for moderators to fill in."""

from pathlib import Path
from typing import Any

from index.builds.moderator_checks import Check, CheckReport, run_checks
from index.builds.report import BuildReport, Progress, ProgressFn, Reason
from index.ingest.corpus import NOT_STATED, read_table
from index.model.embedding import Embedder
from index.search.searcher import Searcher
from index.store.chroma import Store
from index.store.pointer import Pointer

# What a quote is shown with that sources.toml may leave out; the build lists the sources that do, when it first
# indexes them, unless their entry's `not_stated` list says the article gives none.
ATTRIBUTION_FIELDS = ("outlet", "published", "url")


def unattributed(source_ids: list[str], metadata: dict[str, dict[str, str]],
                 not_stated: dict[str, set[str]]) -> list[dict[str, Any]]:
    """The sources whose metadata lacks an outlet, a date or a url that the article may give, and which: for
    moderators to fill in. A field `not_stated` marks for a source (the article gives none) is not lacking."""
    gaps = [(sid, [f for f in ATTRIBUTION_FIELDS if f not in {*metadata.get(sid, {}), *not_stated.get(sid, ())}])
            for sid in source_ids]
    return [{"source": source_id, "missing": missing} for source_id, missing in gaps if missing]


def read_not_stated(seeds_dir: Path, report: BuildReport) -> dict[str, set[str]]:
    """Each source's `not_stated` list in sources.toml: the attribution fields its article does not give. A value
    that names no such field is a warning."""
    marked: dict[str, set[str]] = {}
    for source_id, entry in read_table(seeds_dir).items():
        listed = entry.get(NOT_STATED, [])
        names = listed if isinstance(listed, list) else [listed]
        marked[source_id] = {name for name in names if name in ATTRIBUTION_FIELDS}
        if wrong := [repr(name) for name in names if name not in ATTRIBUTION_FIELDS]:
            report.warnings.append({"source": source_id, "warning": f"{NOT_STATED} lists {', '.join(wrong)}: it may "
                                    f"list only {', '.join(ATTRIBUTION_FIELDS)}"})
    return marked


def switch_reasons(seeds_dir: Path, paths: list[Path], live_documents: int, report: BuildReport) -> list[Reason]:
    """Why the index this build would make should not replace the live one: no documents, or most removed.

    Both are what a mistyped or emptied SEEDS_DIR looks like.
    """
    reasons = []
    if report.documents == 0:
        if not paths:
            others = sorted({p.suffix or p.name for p in seeds_dir.iterdir() if p.is_file()})
            found = f" (it holds {', '.join(others)} files)" if others else " (it is empty)"
            what = f"the seeds folder {seeds_dir} holds no .txt files{found}; check SEEDS_DIR"
        else:
            what = f"none of the {len(paths)} .txt files in {seeds_dir} could be indexed (see the errors)"
        reasons.append(Reason("no_documents", f"The index would hold no documents: {what}."))
    elif report.removed * 2 > live_documents:
        reasons.append(Reason("most_removed", f"The build would remove {report.removed} of the {live_documents} "
                                              f"live documents, more than half; check SEEDS_DIR ({seeds_dir})."))
    return reasons


def checks_reason(checks: CheckReport) -> Reason | None:
    """Why not to switch when the new index fails checks that the live one passes; None when it fails none."""
    if not checks.regressed:
        return None
    failed = "; ".join(f"“{check.question}”" for check in checks.regressed)
    count = f"{len(checks.regressed)} check" + ("s" if len(checks.regressed) > 1 else "")
    return Reason("checks", f"The new index fails {count} that the live index passes: {failed}. "
                            "Fix the corpus or checks.toml.")


def checked(checks: list[Check], store: Store, embedder: Embedder, new: Searcher, live: Pointer | None,
            tell: ProgressFn) -> CheckReport:
    """The checks against the new generation. Those that fail are run against the live one too, which tells a
    check the build broke from one that failed already. With no live index, nothing can break; with one of
    another model, which this embedder cannot search, every failure counts as broken."""
    tell(Progress("checking", 0, len(checks)))
    results = run_checks(checks, new)
    failed = [result.check for result in results if not result.passed]
    regressed: frozenset[Check] = frozenset()
    if failed and live is not None:
        if live.model == embedder.name:
            before = run_checks(failed, Searcher(store, embedder, live))
            regressed = frozenset(result.check for result in before if result.passed)
        else:
            regressed = frozenset(failed)
    tell(Progress("checking", len(checks), len(checks)))
    return CheckReport(results, regressed)
