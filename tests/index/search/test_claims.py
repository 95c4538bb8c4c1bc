"""A message as a claim: its words without Discord's markup, and, when too long, the sentences that carry claims."""

from bot.cogs.check import message_words
from index.search.claims import claim_of
from index.search.lexicon import Lexicon

CORPUS = Lexicon.build(["The Velmora Brigade received $40 million from the Guards in March 2022.",
                        "Officials in Kastrin said the border posts were attacked twice."])
CLAIM = "The Velmora Brigade got $40 million in March 2022."
CHAT = "honestly no idea what to make of this, my cat keeps walking over the keyboard tonight. "


def test_a_short_text_is_the_claim_whole() -> None:
    """A message within the limit is searched as it is, spaces collapsed."""
    assert claim_of(f"  {CHAT}\n\n{CLAIM}  ", CORPUS, 1000) == f"{CHAT.strip()} {CLAIM}"


def test_a_long_text_is_searched_by_the_sentences_naming_what_the_corpus_holds() -> None:
    """Of chat in lower case around two claims, the two claims are kept, in their order; a question is not one."""
    second = "Kastrin border posts were attacked twice last spring."
    text = CHAT * 10 + CLAIM + " " + CHAT * 10 + "is the Velmora Brigade in Kastrin? " + second + " " + CHAT * 5
    assert claim_of(text, CORPUS, 400) == f"{CLAIM} {second}"
    assert claim_of(text, CORPUS, len(CLAIM) + 10) == CLAIM


def test_a_long_text_naming_nothing_keeps_its_likeliest_sentence_within_the_limit() -> None:
    """With no sentence naming anything the corpus holds, one sentence is searched, cut at a word to fit."""
    text = "word " * 300 + ". " + CHAT * 20
    claim = claim_of(text, CORPUS, 100)
    assert 0 < len(claim) <= 100 and not claim.endswith(" ")


def test_message_words_drop_markup_and_keep_the_words() -> None:
    """Mentions, @everyone, links, code, emoji and timestamps go; bold, spoilers, quotes and masked links leave their
    words."""
    text = ("> <@1> @everyone **Iran** paid ||the Brigade|| `x = 1` [$40 million](https://evil.test) <:e:2>\n"
            "# in March 2022 <t:0:R> https://a.test ```\ncode\n```")
    assert message_words(text) == "Iran paid the Brigade $40 million\nin March 2022"
