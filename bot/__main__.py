"""`python -m bot`: run the Discord bot; `python -m bot ask`: answer questions in the terminal, no token needed."""

import argparse
import logging
import sys
from collections.abc import Iterator

from bot.settings import Settings
from bot.terminal import answer_json, answer_text
from index import logs
from index.embedding import Embedder, ModelError
from index.search import Answer, QuestionError, Searcher
from index.store import StoreError

log = logging.getLogger("bot")


def _questions(args: list[str]) -> Iterator[str]:
    if args == ["-"]:
        for line in sys.stdin:
            yield line.rstrip("\n")
    else:
        yield " ".join(args)


def ask(settings: Settings, questions: list[str], fmt: str, top: int) -> int:
    try:
        searcher = Searcher.open(settings, Embedder.load(settings.embedding_model))
    except (ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failures = 0
    interactive = questions == ["-"] and sys.stdin.isatty() and fmt == "text"
    if interactive:
        print("Ask a question (Ctrl-D to quit).", file=sys.stderr)
    for question in _questions(questions):
        if interactive and not question.strip():
            continue
        try:
            answer = searcher.search(question, limit=top)
        except QuestionError as exc:
            if fmt == "text":
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
                continue
            answer = Answer(" ".join(question.split()), (), note=str(exc))
        print(answer_json(answer) if fmt == "json" else answer_text(answer) + "\n", flush=True)
    return 1 if failures and not interactive else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Dossier: quote the corpus, with sources.")
    sub = parser.add_subparsers(dest="command")
    ask_cmd = sub.add_parser("ask", help="answer questions without Discord (no token needed)")
    ask_cmd.add_argument("question", nargs="+", help="the question, or - to read one question per line from stdin")
    ask_cmd.add_argument("--format", choices=["text", "json"], default="text",
                         help="text for people, json for programs (one object per line)")
    ask_cmd.add_argument("--top", type=int, default=5, help="how many passages to quote at most (default 5)")
    args = parser.parse_args(argv)
    logs.configure()
    settings = Settings()
    if args.command == "ask":
        return ask(settings, args.question, args.format, args.top)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
