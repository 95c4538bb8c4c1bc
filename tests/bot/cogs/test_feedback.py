"""Feedback: "Helpful" and "Not helpful" under an answer; one vote per member per answer, changeable, acknowledged
privately and stored with the question. Through the real CommandTree, views and a real SQLite log, and a real
PostgreSQL one."""



from tests.bot.harness import (
    ASKER,
    EPHEMERAL,
    OTHER_MEMBER,
    Gateway,
    Request,
    assert_safe,
)
from tests.bot.questionlog.databases import LogBackend
from tests.bot.questionlog.test_question_log import OFF_TOPIC, answerable, labels, rows, unanswerable


async def vote(gateway: Gateway, answer: Request, label: str, who: dict[str, object]) -> str:
    """Presses a vote button; returns the private acknowledgement (a reply, or a followup to a private deferral
    when the database was slow)."""
    requests = await gateway.press(answer, label, who=who)
    assert [r.kind for r in requests] in (["reply"], ["defer", "followup"])
    assert all(r.message["flags"] & EPHEMERAL for r in requests)
    assert_safe(requests)
    return str(requests[-1].message["content"])


async def test_votes_count_once_per_member_and_can_change(gateway: Gateway) -> None:
    """A member's second press replaces their vote instead of adding one; another member's vote counts apart."""
    answer = (await gateway.command("ask", question=answerable(gateway)))[-1]
    assert labels(answer)[-2:] == ["Helpful", "Not helpful"]
    assert "is recorded" in await vote(gateway, answer, "Helpful", ASKER)
    assert "already voted helpful" in await vote(gateway, answer, "Helpful", ASKER)
    assert "changed to not helpful" in await vote(gateway, answer, "Not helpful", ASKER)
    assert "is recorded" in await vote(gateway, answer, "Helpful", OTHER_MEMBER)
    (question_id,) = rows(gateway, "SELECT id FROM questions")[0]
    votes = rows(gateway, "SELECT question_id, helpful FROM votes ORDER BY helpful")
    assert votes == [(question_id, 0), (question_id, 1)]


async def test_paged_answers_keep_their_votes_on_one_question(gateway: Gateway) -> None:
    """The vote buttons of a later page record against the question that was asked."""
    question = " ".join(c.text for c in gateway.bot.searcher.index.chunks[:2])[:900]
    first = (await gateway.command("ask", question=question))[-1]
    assert "More passages" in labels(first)
    page = (await gateway.press(first, "More passages"))[-1]
    assert labels(page)[-2:] == ["Helpful", "Not helpful"]
    await vote(gateway, page, "Not helpful", ASKER)
    await vote(gateway, page, "Helpful", OTHER_MEMBER)
    assert rows(gateway, "SELECT v.helpful FROM votes AS v JOIN questions AS q ON q.id = v.question_id "
                         "ORDER BY v.helpful") == [(0,), (1,)]


async def test_no_vote_on_an_answer_that_quotes_nothing(gateway: Gateway) -> None:
    """When the corpus does not answer (related passages at most) or is off topic, there is no answer to vote on."""
    for question in (unanswerable(gateway), OFF_TOPIC):
        answer = (await gateway.command("ask", question=question))[-1]
        assert "Passages 1" not in answer.message["content"] and "Helpful" not in labels(answer)


async def test_a_vote_that_cannot_be_stored_is_told_so(gateway: Gateway, log_backend: LogBackend) -> None:
    """With the database locked past the wait, the voter is told privately, after a deferral, that the vote was
    not recorded; and it was not."""
    answer = (await gateway.command("ask", question=answerable(gateway)))[-1]
    gateway.bot.questions.flush()
    with log_backend.locked():
        requests = await gateway.press(answer, "Helpful", who=ASKER)
    assert [r.kind for r in requests] == ["defer", "followup"] and requests[0].message["flags"] & EPHEMERAL
    assert "could not be recorded" in requests[1].message["content"]
    assert rows(gateway, "SELECT count(*) FROM votes") == [(0,)]
