"""What the question log may keep of a member's words, and what members are told about it.

Words (a question's text and the terms it lacked) are kept only for questions asked in a home server
(MODERATOR_GUILD_IDS), not private and not refused, and only once mentions, custom emoji and links are taken out. A
message checked with "Check in Dossier" is someone else's words: it is logged as a private question.
Everything members read about the log (the /ask description, the line under the first answer in a server, and
/privacy) is written here, from the settings, so it says what the code does.
"""

import re

from bot.settings import Settings

ASK_DESCRIPTION_LIMIT = 100  # Discord refuses a longer command description
ASK_DOES = "Quote the corpus on Iran–Taliban ties"

# User, role and channel mentions, slash-command mentions, custom emoji, and links: with a scheme, in <…>, or www.
_UNKEPT = re.compile(r"<(?:@[!&]?\d+|#\d+|/[^<>\s:]+(?: [^<>\s:]+)*:\d+|a?:\w+:\d+)>"
                     r"|<?\b[a-z][a-z0-9+.-]*://[^\s<>]*>?|\bwww\.[^\s<>]+", re.IGNORECASE)


def scrub(text: str) -> str:
    """The text without mentions, custom emoji and links, spaces collapsed: what the log may store of it."""
    return " ".join(_UNKEPT.sub(" ", text).split())


def keeps_words(settings: Settings, guild_id: int | None) -> bool:
    """Whether questions asked in this place (None: a DM) may be stored with their text."""
    return guild_id is not None and guild_id in settings.moderator_guild_ids


def _days(settings: Settings) -> str:
    days = settings.question_log_days
    return f"{days} day" + ("" if days == 1 else "s")


def ask_description(settings: Settings) -> str:
    """/ask's description: what it does, and in a few words what is kept of it."""
    if not settings.question_log:
        return f"{ASK_DOES}. Nothing you ask is kept."
    return f"{ASK_DOES}. Questions kept {_days(settings)} for moderators: see /privacy"


def summary(settings: Settings, guild_id: int | None) -> str:
    """One line: what is kept of a question asked in this place, for how long, and who sees it."""
    if not settings.question_log:
        return "Dossier keeps no record of the questions it is asked."
    if keeps_words(settings, guild_id):
        return (f"Dossier keeps questions asked here, with their text, for {_days(settings)}; this server's "
                "moderators, and no other server's, see them (private ones without text).")
    return (f"Dossier keeps when questions here are asked and how they are answered, never their text, for "
            f"{_days(settings)}; moderators see only counts.")


def notice(settings: Settings, guild_id: int | None) -> str:
    """The line under the first answer in a server: the summary, and where to read more."""
    return f"{summary(settings, guild_id)} /privacy says more."


def explained(settings: Settings, guild_id: int | None) -> str:
    """/privacy's reply: the one line for this place, then what exactly, who, how long, and how to be forgotten."""
    if not settings.question_log:
        return f"{summary(settings, guild_id)} Answers are not recorded and carry no vote buttons."
    if keeps_words(settings, guild_id):
        what = ("For each question: when, this channel, how it was answered, the passages quoted, how long it took "
                "and votes on the answer; and its text (mentions, emoji and links removed) with the words the corpus "
                "lacked, except for a private question (`private:True`) or a message checked with Check in Dossier, "
                "of which no word is kept.")
        who = ("This server's moderators, and no other server's, see the text of unanswered questions, grouped by "
               "meaning, with /dossier gaps, and counts with /dossier stats; whoever runs the bot can read the log.")
        forget = ("Delete a message that asked Dossier something and its entry goes too. A moderator can delete all "
                  "of yours in this server with /dossier forget.")
    else:
        what = ("For each question: when, how it was answered, the passages quoted, how long it took and votes on "
                "the answer. Never its text, nor the words it lacked.")
        who = ("The moderators of Dossier's home servers see only counts of questions asked here, never their text; "
               "whoever runs the bot can read the log.")
        forget = "Delete a message that asked Dossier something and its entry goes too."
    return "\n".join([summary(settings, guild_id), f"**What:** {what}",
                      "**Who asked:** never your Discord id; a keyed hash of it, different in every server, that "
                      "tells one member's votes from another's.",
                      f"**Who sees it:** {who}",
                      f"**How long:** {_days(settings)}, then it is deleted.",
                      f"**To be forgotten:** {forget}"])
