"""What the moderator commands (/dossier) say: a reindex's progress and report, the sources, the index's status,
the checks, a rollback, the gaps and stats reports, the sources offered to /dossier remove, and errors with the
server's folders and database named by their settings; and how the moderator is named in the logs."""

import re
from datetime import datetime

import discord
from discord import app_commands

from bot.payload import Payload, pack, truncate
from bot.questionlog import reports
from bot.questionlog.database import Location
from bot.quoting import markdown
from bot.render import COLOUR
from bot.settings import Settings
from bot.text import attribution
from index.builds.moderator_checks import CHECKS_FILE, Result, failure_text
from index.builds.report import BuildReport, Progress
from index.ingest.corpus import Source
from index.ingest.editing import SourceChange
from index.ingest.source_fields import url_problem
from index.store.pointer import Pointer

STAGES = {"reading": "reading documents", "embedding": "embedding passages", "writing": "writing passages",
          "corroborating": "finding what other sources also report", "saving": "saving the new index's files",
          "validating": "validating the new index", "checking": "running the moderators' checks"}
CHOICES_LIMIT = 25
CHOICE_NAME_LIMIT = 100
GAPS_SHOWN = 10
DAYS_SHOWN = 31  # questions per day, in Discord: a longer list is in `python -m bot stats`
EXAMPLE_CHARS = 200
# How libpq and psycopg name the server they could not reach: `server at "host" (address), port N`, `server on
# socket "path"`, `resolve host 'name'`.
_SERVER_ADDRESS = re.compile(r"""server (?:at|on socket) "[^"]*"(?: \([^)]*\))?(?:, port \d+)?|resolve host '[^']*'""")


def who(interaction: discord.Interaction) -> str:
    """The member as the bot's log names them: name, id and server."""
    return f"{interaction.user} ({interaction.user.id}) in guild {interaction.guild_id}"


def actor(interaction: discord.Interaction) -> str:
    """The member as recorded in the seeds' log and the index: name and id."""
    return f"{interaction.user} ({interaction.user.id})"


def progress_text(progress: Progress | None) -> str:
    if progress is None:
        return "Reindexing… starting."
    stage = STAGES.get(progress.stage, progress.stage)
    return f"Reindexing… {stage}: {progress.done:,} of {progress.total:,}."


def report_text(report: BuildReport, force: bool = False) -> str:
    size = f"{report.documents} documents, {report.chunks} passages"
    if report.held:
        lines = [f"Not switched: generation {report.generation} stays live.",
                 *[f"• {reason.message}" for reason in report.reasons],
                 "To switch all the same, run /dossier reindex force: True.",
                 *[f"• {e['source']}: {e['error']}" for e in report.errors]]
        return "\n".join(lines + _checks_lines(report))
    head = (f"Reindex done: {size}, now live (generation {report.generation})." if report.switched
            else f"Nothing changed: {size}; generation {report.generation} stays live.")
    lines = [head, *[f"Switched with force despite: {reason.message}" for reason in report.reasons],
             f"Documents: {report.added} added, {report.changed} changed, {report.removed} removed, "
             f"{report.unchanged} unchanged; {report.timing()}."]
    if note := report.force_note(force):
        lines.append(f"force: True {note}.")
    if report.took_over:
        lines.append(f"Note: {report.took_over}.")
    lines += [f"Warning: {w['source']}: {w['warning']}." for w in report.warnings]
    if report.errors:
        lines.append(f"Errors ({len(report.errors)}):")
        lines += [f"• {error['source']}: {error['error']}" for error in report.errors]
    else:
        lines.append("No errors.")
    return "\n".join(lines + _checks_lines(report))


def _checks_lines(report: BuildReport) -> list[str]:
    """The moderators' checks the build ran on its new index, if it ran any."""
    if report.checks is None:
        return []
    return [f"Checks: {report.checks.passed} passed, {len(report.checks.failed)} failed.",
            *[f"• {failure_text(result)}" + (" (it passed before)" if result.check in report.checks.regressed
                                             else "") for result in report.checks.failed]]


def checks_text(results: list[Result]) -> str:
    if not results:
        return f"There are no checks: add questions to {CHECKS_FILE} in the seeds folder (see docs/discord.md)."
    failed = [result for result in results if not result.passed]
    lines = [f"Checks against the live index: {len(results) - len(failed)} passed, {len(failed)} failed."]
    return "\n".join(lines + [f"• {failure_text(result)}" for result in failed])


def rollback_payload(pointer: Pointer, trouble: str = "") -> Payload:
    """Which generation is live again and when it was built (a Discord timestamp, so not escaped)."""
    built = int(datetime.fromisoformat(pointer.built_at).timestamp())
    text = (f"Rolled back: generation {pointer.generation} is live again, built <t:{built}:f> by "
            f"{markdown(pointer.built_by)} ({pointer.documents} documents, {pointer.chunks} passages). The seeds "
            "folder was not touched, so the next reindex builds what it holds now: fix or remove what went wrong "
            "there first.")
    return pack(f"{text}\n{markdown(trouble)}" if trouble else text)


def sources_payload(sources: list[tuple[Source, int]]) -> Payload:
    lines = []
    for source, count in sources:
        details = " · ".join(filter(None, [attribution(source), f"{count} passages", f"id {source.id}"]))
        link = f"\n{link_line(source.url)}" if source.url else ""
        lines.append(f"**{markdown(source.title)}**\n{markdown(details)}{link}")
    total = sum(count for _, count in sources)
    embed = discord.Embed(title="Sources", description="\n\n".join(lines) or "(none)", colour=COLOUR)
    return pack(f"The index holds {len(sources)} documents, {total} passages.", [embed])


def link_line(url: str) -> str:
    """A source's url as a link; a url that is no valid link (sources.toml is edited by hand too) as plain text."""
    if url_problem(url) is None:  # the valid characters cannot end the <…> early or start markdown
        return f"<{url}>"
    return f"{markdown(url)} (not a valid link: fix it in sources.toml)"


def status_payload(pointer: Pointer) -> Payload:
    built = int(datetime.fromisoformat(pointer.built_at).timestamp())
    embed = discord.Embed(title="Dossier's index", colour=COLOUR)
    embed.add_field(name="Documents", value=str(pointer.documents))
    embed.add_field(name="Passages", value=str(pointer.chunks))
    embed.add_field(name="Generation", value=str(pointer.generation))
    embed.add_field(name="Model", value=markdown(pointer.model), inline=False)
    embed.add_field(name="Last build", value=f"<t:{built}:f> (<t:{built}:R>)")
    embed.add_field(name="Started by", value=markdown(pointer.built_by) or "unknown")
    return pack("", [embed])


def gaps_payload(report: reports.Gaps) -> Payload:
    """The largest groups of questions the corpus misses, each with its count, two wordings and missing terms."""
    embed = discord.Embed(title=f"Gaps: the last {reports.plural(report.days, 'day')}", colour=COLOUR)
    for number, gap in enumerate(report.groups[:GAPS_SHOWN], 1):
        lines = [f"“{markdown(truncate(example, EXAMPLE_CHARS))}”" for example in gap.examples]
        if gap.missing:
            lines.append(f"Missing from the corpus: {markdown(', '.join(gap.missing))}")
        embed.add_field(name=f"{number}. {reports.gap_summary(gap)}", value="\n".join(lines), inline=False)
    if not report.groups:
        embed.description = "No question went unanswered or was voted not helpful."
    head = (f"{reports.plural(report.questions, 'question')} went unanswered or were voted not helpful, in "
            f"{reports.plural(len(report.groups), 'group')} by meaning")
    shown = f"; the largest {GAPS_SHOWN} are below" if len(report.groups) > GAPS_SHOWN else ""
    unshown = "".join(f" {note}" for note in reports.unshown_notes(report))
    return pack(f"{head}{shown}.{unshown}", [embed])


def stats_payload(report: reports.Stats, titles: dict[str, str]) -> Payload:
    """Questions, shares answered and voted helpful, answer time, the most quoted sources, questions per day."""
    embed = discord.Embed(title=f"Questions: the last {reports.plural(report.days, 'day')}", colour=COLOUR)
    lines = reports.stats_lines(report, titles, escape=markdown)
    per_day = lines.pop("Questions per day")
    for name, value in lines.items():
        embed.add_field(name=name, value=value, inline="\n" not in value)
    shown = f"Questions per day (UTC, the last {DAYS_SHOWN})" if report.days > DAYS_SHOWN else "Questions per day (UTC)"
    days = "\n".join(per_day.splitlines()[-DAYS_SHOWN:])
    embed.add_field(name=shown, value=f"```\n{days}\n```", inline=False)
    return pack("", [embed])

def change_text(change: SourceChange) -> str:
    done = f"Seeds folder: {change.action} “{change.source.title}” ({change.source.id}, {change.size:,} bytes)."
    return f"{done} {change.kept_note}" if change.kept else done


def source_choices(sources: list[Source], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for the sources matching `current`, at most Discord's 25, names and values within 100
    (one longer makes Discord refuse them all). A source whose id is longer (a file put in the seeds folder by hand)
    cannot be a choice, nor be removed from Discord: it is left out."""
    typed = current.casefold().strip()
    matching = [s for s in sources if len(s.id) <= CHOICE_NAME_LIMIT
                and (typed in s.id.casefold() or typed in s.title.casefold())]
    return [app_commands.Choice(name=truncate(f"{s.title} ({s.id})", CHOICE_NAME_LIMIT), value=s.id)
            for s in matching[:CHOICES_LIMIT]]

def for_moderators(text: str, settings: Settings) -> str:
    """An error's text with the server's folders and database named by their settings (SEEDS_DIR, CHROMA_PATH,
    DATABASE_URL), not paths or addresses: not even those PostgreSQL's own messages give (host, address, port)."""
    for name, path in (("SEEDS_DIR", settings.seeds_dir), ("CHROMA_PATH", settings.chroma_path),
                       ("DATABASE_PATH", settings.database_path)):
        forms = {str(path.resolve()), str(path)} if len(path.parts) > 1 else {str(path.resolve())}
        for form in sorted(forms, key=len, reverse=True):  # a bare relative name such as "seeds" is no path
            text = text.replace(form, name)
    if settings.database_url is not None:
        text = text.replace(str(Location.of(settings)), "DATABASE_URL")
        text = _SERVER_ADDRESS.sub(lambda found: "resolve DATABASE_URL's host" if found[0].startswith("resolve")
                                   else "DATABASE_URL's server", text)
    return text
