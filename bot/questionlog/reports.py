"""What the question log tells moderators, as the command line and the cogs read it: the gaps in the corpus
(bot/questionlog/gaps.py) and how Dossier is used (bot/questionlog/stats.py), over what a `Scope` covers
(bot/questionlog/scope.py), and each report's text, shared by the terminal and Discord."""

from collections.abc import Callable

from bot.questionlog.gaps import Gap, Gaps, gaps
from bot.questionlog.scope import DEFAULT_DAYS, EVERYTHING, MAX_DAYS, Scope, iso
from bot.questionlog.stats import Stats, stats

__all__ = ["DEFAULT_DAYS", "EVERYTHING", "MAX_DAYS", "Gap", "Gaps", "Scope", "Stats", "gap_summary", "gaps",
           "gaps_text", "plural", "stats", "stats_lines", "stats_text", "unshown_notes"]

TOP_SOURCES = 5


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _share(value: float | None, of: int, what: str) -> str:
    return f"{value:.0%} of {of:,} {what}" if value is not None else f"no {what} yet"


def gaps_text(report: Gaps) -> str:
    """Gaps for a terminal."""
    lines = [f"Gaps, last {plural(report.days, 'day')}: {plural(report.questions, 'question')} in "
             f"{plural(len(report.groups), 'group')}, largest first."]
    lines += unshown_notes(report)
    for number, gap in enumerate(report.groups, 1):
        lines += ["", f"{number}. {gap_summary(gap)}"] + [f"   “{example}”" for example in gap.examples]
        if gap.missing:
            lines.append(f"   missing from the corpus: {', '.join(gap.missing)}")
    return "\n".join(lines)


def unshown_notes(report: Gaps) -> list[str]:
    """The unanswered questions gaps counts but cannot show, since their text is not kept."""
    notes = []
    if report.private:
        notes.append(f"{plural(report.private, 'private question')} went unanswered too; their text is not kept.")
    if report.elsewhere:
        notes.append(f"{plural(report.elsewhere, 'question')} asked outside the home servers went unanswered too; "
                     "their text is not kept.")
    return notes


def gap_summary(gap: Gap) -> str:
    """How many questions a group holds, and how each went."""
    parts = [f"{gap.not_answered:,} not answered"] if gap.not_answered else []
    if gap.not_helpful:
        parts.append(f"{gap.not_helpful:,} voted not helpful")
    return f"{plural(gap.count, 'question')} ({', '.join(parts)})"


def stats_lines(report: Stats, titles: dict[str, str], escape: Callable[[str], str] = str) -> dict[str, str]:
    """Each figure of the stats as a short text, by its name; shared by the terminal and Discord, which escapes
    the sources' titles."""
    refused = report.outcomes.get("refused", 0)
    latency = report.latency_ms
    votes = report.helpful + report.not_helpful
    return {
        "Questions": f"{report.questions:,}" + (f" ({refused:,} refused)" if refused else ""),
        "Answered": _share(report.answered_share, report.searched, "questions searched"),
        "Voted helpful": _share(report.helpful_share, votes, "votes"),
        "Answer time": (f"p50 {latency['p50']:,.0f} ms, p95 {latency['p95']:,.0f} ms, max {latency['max']:,.0f} ms"
                        if latency else "no answers yet"),
        "Most quoted sources": "\n".join(f"{n:,} × {escape(titles.get(source, source))}"
                                         for source, n in report.sources[:TOP_SOURCES]) or "none yet",
        "Questions per day": "\n".join(f"{day}  {n:,}" for day, n in report.per_day),
    }


def stats_text(report: Stats, titles: dict[str, str]) -> str:
    """Stats for a terminal."""
    lines = [f"Stats, last {plural(report.days, 'day')} (since {iso(report.since)}):"]
    for name, value in stats_lines(report, titles).items():
        if "\n" in value:
            lines += [f"{name}:"] + [f"  {line}" for line in value.splitlines()]
        else:
            lines.append(f"{name}: {value}")
    return "\n".join(lines)
