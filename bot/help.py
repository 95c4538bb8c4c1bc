"""What each of Dossier's commands does, in three lines: the reply to /help and to a bare mention of the bot."""

from bot.payload import Payload, pack

CHECK = "Check in Dossier"  # the message command's name, as members see it under Apps
LINES = (
    "**/ask** `question:` quotes the passages of the corpus that answer a question, word for word with their "
    "sources and who else reports them (or mention @Dossier with your question).",
    f"**{CHECK}** (right-click or long-press a message → Apps) checks the claim in someone's message against the "
    "corpus, and answers only you.",
    "**/compare** `topic:` shows each source's closest passage on a topic, and names the sources that say nothing "
    "on it.",
)
MORE = "-# /privacy says what Dossier keeps of your questions."


def help_payload() -> Payload:
    """The three lines, and where to read what is kept."""
    return pack("\n".join([*LINES, MORE]))
