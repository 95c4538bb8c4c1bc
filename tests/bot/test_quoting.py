"""Quoting for Discord: quotes and echoed questions that stay verbatim yet cannot ping, format or link."""

import re

import pytest

from bot.quoting import best_sentence, echo, markdown, quote

HOSTILE = ("@everyone and @here, see <@123456789012345678>, <@!123456789012345678> and <@&123456789012345678>. "
           "**Not bold** `not code` ||no spoiler|| [not a link](https://evil.test) ~~kept~~ __kept__ \\ too.\n"
           "> not a nested quote\n# not a heading\n-# not small\n```not a block```")


def unquote(description: str) -> str:
    text = description.removeprefix("> ").replace("**", "")
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def test_hostile_quote_stays_verbatim_and_inert() -> None:
    """Mentions and markdown in a passage are neutralised, its words all kept, and it stays one block quote."""
    description = quote(HOSTILE)
    assert description.startswith("> ") and "\n" not in description
    assert unquote(description) == " ".join(HOSTILE.split())
    assert "@everyone" not in description and "@here" not in description
    assert not re.search(r"<@[!&]?\d", description)
    assert not re.search(r"(?<!\\)(\*\*Not|`not|\|\||\[not a link\]|~~|__)", description)

def test_every_masked_link_and_tag_is_broken() -> None:
    """Several masked links on one line all lose their link, and Discord's <…> syntax shows as typed."""
    text = "[one](https://a.test) and [two](https://b.test) <t:0:R> </ban:1> <#1> <a:x:1> <x:/[C](https://p.test)>"
    escaped = markdown(text)
    assert not re.search(r"(?<!\\)[\[\]]", escaped)
    assert not re.search(r"<[^\u200b ]", escaped)
    assert re.sub(r"\\(.)", r"\1", escaped).replace("\u200b", "") == text

def test_best_sentence_is_emphasised() -> None:
    """The sentence sharing most words with the question is bold; the rest of the passage is unchanged."""
    text = "Iran met the Taliban. In 1998 Iran nearly went to war after nine diplomats died. It ended."
    description = quote(text, "What took Iran to the brink of war in 1998?")
    bold = "**In 1998 Iran nearly went to war after nine diplomats died.**"
    assert description == f"> Iran met the Taliban. {bold} It ended."

@pytest.mark.parametrize(("text", "question"), [("Only one sentence about Iran.", "Iran?"),
                                                ("Iran here. Iran there.", "Iran?"),
                                                ("Nothing shared. At all.", "Taliban visas?")])
def test_no_emphasis_without_a_clear_best(text: str, question: str) -> None:
    """One sentence, a tie, or no shared word: nothing is emphasised."""
    assert best_sentence(text, question) is None
    assert "**" not in quote(text, question)

def test_question_echo_is_escaped_and_short() -> None:
    """The echoed question is cut to 200 characters and cannot ping or format."""
    echoed = echo("@everyone **loud** " + "word " * 300)
    assert "@everyone" not in echoed and r"\*\*loud\*\*" in echoed
    assert len(echoed.replace("\u200b", "").replace("\\", "")) <= 200 and echoed.endswith("…")

def test_a_link_in_the_question_is_echoed_without_a_preview() -> None:
    """A link in a question comes back inside <…>, which Discord shows as a link with no preview card."""
    echoed = echo("is this true?? https://evil.test/a_b?c=1 and HTTP://x.test, [see](https://e.test) **really**")
    assert re.findall(r"\S*://\S*", echoed) == ["<https://evil.test/a_b?c=1>", "<HTTP://x.test>,",
                                                  r"\[see\](<https://e.test>)"]
    assert r"\*\*really\*\*" in echoed

def test_an_invite_without_a_scheme_is_echoed_without_a_preview() -> None:
    """An invite typed without https:// (which Discord still turns into an invite card) is echoed as a link in <…>,
    like any other link, so an answer cannot carry someone's server."""
    echoed = echo("Is discord.gg/Ab12cd the place, or discord.com/invite/Xy34 or discordapp.com/invite/Zz9?")
    assert re.findall(r"<[^<>]*>", echoed) == ["<https://discord.gg/Ab12cd>", "<https://discord.com/invite/Xy34>",
                                               "<https://discordapp.com/invite/Zz9>"]
    assert not re.search(r"discord(app)?\.(gg|com)/", re.sub(r"<[^<>]*>", "", echoed))
