"""`python -m bot log import FILE`: an export put back into a log is the same log; importing again adds nothing;
a file that is not a good export, or a log with another key, is refused with the line and what is wrong, and
nothing is written."""

import json
import shutil
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.questionlog.keys import key_path
from bot.questionlog.schema import LATEST
from tests.bot.questionlog.databases import LogBackend
from tests.bot.questionlog.test_log_operations import fill

ADDED = {"questions": 3, "votes": 1, "passages quoted": 2, "wordings": 2}
NOTHING = dict.fromkeys(ADDED, 0)


def run(backend: LogBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        *args: str) -> tuple[int, str, str]:
    """`python -m bot ARGS` with its log at `backend`; the exit status, stdout and stderr."""
    for name in ("DATABASE_URL", "DATABASE_PATH", "QUESTION_LOG_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in backend.env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def rows(export: str) -> list[dict[str, object]]:
    """An export's rows, without its first line (which names the database and the time)."""
    return [json.loads(line) for line in export.splitlines()[1:]]


def with_key_of(source: LogBackend, folder: Path) -> LogBackend:
    """An empty log of the same kind as `source`, with its key: a SQLite file whose key file is a copy of the
    source's, or a new PostgreSQL database with the same QUESTION_LOG_KEY."""
    if source.cluster is None:
        target = LogBackend("sqlite", folder)
        folder.mkdir()
        shutil.copy2(key_path(source.path), key_path(target.path))
        return target
    return LogBackend("postgresql", folder, source.cluster, source.cluster.create_database(), key=source.key)


@pytest.fixture
def exported(log_backend: LogBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             tmp_path: Path) -> Path:
    """`log export --json` of a log holding three questions, a vote, two passages quoted and two wordings."""
    fill(log_backend.location)
    status, out, err = run(log_backend, monkeypatch, capsys, "log", "export", "--json")
    assert status == 0, err
    (tmp_path / "log.jsonl").write_text(out, encoding="utf-8")
    return tmp_path / "log.jsonl"


def test_an_export_imported_into_an_empty_log_is_the_same_log(
        log_backend: LogBackend, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Imported into an empty log with the same key, an export gives back every row as it was; imported again, it
    adds nothing and says so."""
    target = with_key_of(log_backend, tmp_path / "restored")
    status, out, err = run(target, monkeypatch, capsys, "log", "import", str(exported), "--json")
    assert status == 0, err
    assert json.loads(out)["added"] == ADDED
    status, out, _ = run(target, monkeypatch, capsys, "log", "import", str(exported))
    assert status == 0 and "added 0 questions, 0 votes, 0 passages quoted, 0 wordings" in out
    assert "Rows it held already were left as they were" in out
    _, again, _ = run(target, monkeypatch, capsys, "log", "export", "--json")
    assert rows(again) == rows(exported.read_text(encoding="utf-8"))
    target.drop()


def bad(lines: list[str], where: int, change: str) -> list[str]:
    """The export's lines with one made bad: `change` is what is done to line `where` (1 is the first)."""
    line = json.loads(lines[where - 1])
    first = {"table": "log", "schema": LATEST}
    changes = {
        "not json": lambda: lines[where - 1][:-1],
        "no header": lambda: json.dumps({"table": "questions"}),
        "old schema": lambda: json.dumps({**first, "schema": LATEST - 1}),
        "unknown table": lambda: json.dumps({**line, "table": "members"}),
        "missing column": lambda: json.dumps({k: v for k, v in line.items() if k != "asked_at"}),
        "extra column": lambda: json.dumps({**line, "user_id": 1}),
        "wrong type": lambda: json.dumps({**line, "asked_at": "yesterday"}),
        "bad base64": lambda: json.dumps({**line, "vector": "not base64!"}),
        "dangling vote": lambda: json.dumps({**line, "question_id": 12345}),
        "duplicate": lambda: lines[where - 2],
    }
    return [*lines[:where - 1], changes[change](), *lines[where:]]


@pytest.mark.parametrize(("change", "said"), [
    ("not json", "line {line}: not JSON"),
    ("no header", "is not an export of the question log"),
    ("old schema", f"of schema {LATEST - 1}"),
    ("unknown table", "line {line}: not a row of the question log's tables"),
    ("missing column", "line {line}: a row of questions has the columns"),
    ("extra column", "it has no column user_id"),
    ("wrong type", "line {line}: asked_at must be a number"),
    ("bad base64", "line {line}: vector must be base64 text"),
    ("dangling vote", "line {line}: the row cannot be imported"),
    ("duplicate", "line {line}: the row cannot be imported"),
])
@pytest.mark.parametrize("log_backend", ["sqlite"], indirect=True)
def test_a_bad_export_is_refused_naming_its_line_and_nothing_is_written(
        log_backend: LogBackend, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], change: str, said: str) -> None:
    """A file that is not a good export is refused (exit 1) with the line and what is wrong; the log it was to go
    into is not even created."""
    lines = exported.read_text(encoding="utf-8").splitlines()
    tables = [json.loads(line)["table"] for line in lines]
    where = {"no header": 1, "old schema": 1, "bad base64": next(n for n, line in enumerate(lines, 1)
                                                                 if '"vector": "' in line),
             "dangling vote": tables.index("votes") + 1, "duplicate": tables.index("questions") + 2,
             }.get(change, tables.index("questions") + 1)
    (tmp_path / "bad.jsonl").write_text("\n".join(bad(lines, where, change)) + "\n", encoding="utf-8")
    target = with_key_of(log_backend, tmp_path / "restored")
    status, out, err = run(target, monkeypatch, capsys, "log", "import", str(tmp_path / "bad.jsonl"))
    assert status == 1 and out == ""
    assert err.startswith("error: ") and said.format(line=where) in err and "Traceback" not in err
    assert not target.path.exists()


@pytest.mark.parametrize("log_backend", ["sqlite"], indirect=True)
def test_an_export_is_refused_by_a_log_without_its_key(
        log_backend: LogBackend, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Without the exported log's key file beside it, or with another key there, a log refuses the export (its
    members' hashes would match nobody) and nothing is written."""
    target = LogBackend("sqlite", tmp_path / "restored")
    target.folder.mkdir()
    status, _, err = run(target, monkeypatch, capsys, "log", "import", str(exported))
    assert status == 1 and f"there is no key file at {key_path(target.path)}" in err
    key_path(target.path).write_bytes(bytes(32))
    key_path(target.path).chmod(0o600)
    status, _, err = run(target, monkeypatch, capsys, "log", "import", str(exported))
    assert status == 1 and "exported from a log with another key" in err
    assert not target.path.exists()


@pytest.mark.parametrize("log_backend", ["sqlite"], indirect=True)
def test_an_export_is_read_from_stdin_and_an_empty_one_is_refused(
        log_backend: LogBackend, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`log import -` reads the export from stdin; an empty file is no export, and says what one is."""
    import io

    target = with_key_of(log_backend, tmp_path / "restored")
    monkeypatch.setattr("sys.stdin", io.StringIO(exported.read_text(encoding="utf-8")))
    status, out, err = run(target, monkeypatch, capsys, "log", "import", "-", "--json")
    assert status == 0, err
    assert json.loads(out) == {"from": "stdin", "to": str(target.path), "added": ADDED}
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    status, _, err = run(target, monkeypatch, capsys, "log", "import", str(tmp_path / "empty.jsonl"))
    assert status == 1 and "is empty" in err and "log export --json" in err
