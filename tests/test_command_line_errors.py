"""What a newcomer gets wrong on the command line, or in .env, is told once and plainly, with the README's exit
codes, before anything slow loads; and what a build reports (held, unknown sources, missing metadata) is said once.

The index here is built with the fake embedder and EMBEDDING_MODEL names it: a command that reached for a model
would fail to load one, so these tests also show that nothing is loaded before the command line is checked.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from index.__main__ import build_summary
from index.builds.pipeline import build
from index.ingest.chunking import chunk_document
from index.ingest.corpus import make_document
from index.model.embedding import DeferredEmbedder
from index.store.chroma import Store
from tests.conftest import ROOT, FakeEmbedder, make_settings

HEAVY = ("torch", "transformers", "sentence_transformers")
PROSE = "Officials in Zaranj said on Tuesday that two border guards were wounded in the exchange of fire."


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)


@pytest.fixture
def fake_index(tmp_path: Path, seeds_copy: Path) -> dict[str, str]:
    """The environment of commands over an index of the seeds built with the fake embedder, which it names."""
    settings = make_settings(tmp_path, seeds_copy)
    build(seeds_copy, Store.open(settings), FakeEmbedder())
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(settings.chroma_path),
           "EMBEDDING_MODEL": FakeEmbedder().name, "DATABASE_PATH": str(tmp_path / "questions.sqlite3"),
           "ONNX_CACHE": str(tmp_path / "onnx"), "HF_HUB_OFFLINE": "1"}
    env.pop("DISCORD_TOKEN", None)
    return env


@pytest.mark.parametrize("top", ["0", "-2"])
def test_top_below_one_is_refused(fake_index: dict[str, str], top: str):
    """`ask --top 0` or `--top -2` is a bad command line: exit 2 naming --top, and no answer."""
    result = run(["bot", "ask", "--top", top, "Who trains Taliban fighters?"], fake_index)
    assert result.returncode == 2 and result.stdout == ""
    assert "argument --top: must be a whole number of passages, 1 or more" in result.stderr


@pytest.mark.parametrize("words", [["Who trains them?", "Who pays them?"], ["-", "Who pays them?"]],
                         ids=["two quoted questions", "stdin and a question"])
def test_several_questions_on_the_command_line_get_the_usage(fake_index: dict[str, str], words: list[str]):
    """Two quoted questions, or `-` with a question, are not silently joined into one: exit 2 and how to ask."""
    result = run(["bot", "ask", *words], fake_index)
    assert result.returncode == 2 and result.stdout == ""
    assert "give one question, in quotes or as bare words; for several, one a line on stdin" in result.stderr


@pytest.mark.parametrize("command", ["ask", "compare"])
def test_an_empty_question_is_a_bad_command_line(fake_index: dict[str, str], command: str):
    """`bot ask ""` and `bot compare ""` exit 2, as a bad command line does, with one line saying why."""
    result = run(["bot", command, ""], fake_index)
    assert result.returncode == 2
    assert result.stderr == "error: The question is empty: ask something about Iran–Taliban ties.\n"


def test_export_check_of_a_missing_file_names_it(fake_index: dict[str, str], tmp_path: Path):
    """`index export --check` on a file that is not there says so in words (exit 2), not with a raw errno."""
    result = run(["index", "export", "--check", str(tmp_path / "questions.jsonl")], fake_index)
    assert result.returncode == 2
    assert f"argument --check: there is no file {tmp_path / 'questions.jsonl'}" in result.stderr
    assert "Errno" not in result.stderr


@pytest.mark.parametrize("report", ["gaps", "stats"])
def test_a_report_as_json_without_a_log_prints_an_error_object(fake_index: dict[str, str], report: str):
    """`gaps --json` and `stats --json` with no question log print an error object, as `rollback --json` does,
    and point to `bot ask --log`."""
    result = run(["bot", report, "--json"], fake_index)
    assert result.returncode == 1
    printed = json.loads(result.stdout)
    assert printed["status"] == 1 and printed["error"].startswith("there is no question log at")
    assert "python -m bot ask --log" in printed["error"]


@pytest.mark.parametrize("command", [["index", "rollback"], ["bot", "stats"]])
def test_a_bad_env_line_is_reported_once(tmp_path: Path, command: list[str]):
    """A .env line that is not NAME=value is named once per command, python-dotenv's own repeats silenced: the
    project folder is a copy whose .env has one, and the command runs there, as scripts/run runs them."""
    project = tmp_path / "project"
    for package in ("index", "bot"):
        shutil.copytree(ROOT / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".env").write_text(f"CHROMA_PATH={tmp_path / 'none'}\nthis line is not a setting\n"
                                  f"DATABASE_PATH={tmp_path / 'none.sqlite3'}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CHROMA_PATH", "DATABASE_PATH")}
    result = run(command, {**env, "PYTHONPATH": str(project)}, cwd=project)
    assert result.returncode == 1  # no index, no log: the other lines of .env applied
    assert result.stderr.count("line 2: not a NAME=value setting; the line is ignored") == 1
    assert "python-dotenv" not in result.stderr


def test_a_build_not_switched_to_says_why_once_and_loads_no_model(fake_index: dict[str, str], tmp_path: Path):
    """A build held back (an empty SEEDS_DIR) says why in its summary, not again as a log line, and has loaded no
    model to find that out."""
    (tmp_path / "empty").mkdir()
    result = run(["index", "build"], {**fake_index, "SEEDS_DIR": str(tmp_path / "empty")})
    assert result.returncode == 3
    assert result.stdout.startswith("Not switched: generation 1 stays live.")
    assert (result.stdout + result.stderr).count("holds no .txt files") == 1


ASK_LOADING = """
import json, runpy, sys
sys.argv, code = [sys.argv[1], *sys.argv[2:]], None
try:
    runpy.run_module(sys.argv[0], run_name="__main__")
except SystemExit as done:
    code = done.code
print(json.dumps({"status": code, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {heavy})}))
""".replace("{heavy}", repr(set(HEAVY)))


def loads(args: list[str], env: dict[str, str]) -> tuple[dict[str, object], str]:
    """The exit status of `python -m ARGS` and the heavy modules it imported, and its stderr."""
    done = subprocess.run([sys.executable, "-c", ASK_LOADING, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def test_a_changed_model_named_on_the_hub_is_refused_before_it_loads(fake_index: dict[str, str]):
    """EMBEDDING_MODEL changed to a model hub name: "rebuild the index" at once, without importing torch or trying
    to download the model, which offline fails after many seconds with the hub's error."""
    env = {**fake_index, "EMBEDDING_MODEL": "sentence-transformers/paraphrase-MiniLM-L3-v2"}
    done, errors = loads(["bot", "ask", "Who trains Taliban fighters?"], env)
    assert done == {"status": 1, "heavy": []}
    assert "The index was built with the embedding model 'fake-hash-64'" in errors
    assert "Rebuild it with `python -m index build`" in errors and "huggingface" not in errors.lower()


def test_a_build_with_nothing_changed_never_imports_torch(fake_index: dict[str, str]):
    """A build that has nothing to embed says so without loading the model: sentence-transformers and torch are
    never imported (the fake model's name could not even be loaded)."""
    done, errors = loads(["index", "build"], fake_index)
    assert done == {"status": 0, "heavy": []}, errors


def test_a_build_that_only_removes_a_source_never_imports_torch(fake_index: dict[str, str]):
    """A build whose only change is a removed source (what `/dossier remove` makes) switches without loading the
    model: the passages it keeps have their vectors in the live generation's files, and the background questions'
    vectors, which set the new abstention bar, are kept in the store."""
    (Path(fake_index["SEEDS_DIR"]) / "004_9fd61aad6fe509e9.txt").unlink()
    done = subprocess.run([sys.executable, "-c", ASK_LOADING, "index", "build", "--json"], capture_output=True,
                          text=True, env=fake_index, cwd=ROOT, timeout=300)
    *_, report, loaded = done.stdout.splitlines()
    assert json.loads(loaded) == {"status": 0, "heavy": []}, done.stderr
    assert {k: json.loads(report)[k] for k in ("removed", "embedded", "switched")} == {
        "removed": 1, "embedded": 0, "switched": True}


def test_a_two_word_first_line_is_the_title():
    """Without metadata, a first line of two words ("Zaranj shootout") is the title, as the README says."""
    document = make_document("zaranj.txt", f"Zaranj shootout\n\n{PROSE}\n", {})
    assert document.source.title == "Zaranj shootout"
    assert [chunk.text for chunk in chunk_document(document)] == [PROSE]


def test_a_check_naming_an_unknown_source_is_warned(tmp_path: Path, seeds_copy: Path):
    """A check in checks.toml expecting a source that is not in the corpus is reported as an unknown source."""
    (seeds_copy / "checks.toml").write_text('[[check]]\nquestion = "Who trains Taliban fighters?"\n'
                                            'source = "001_no_such_source.txt"\n', encoding="utf-8")
    report = build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder())
    [warning] = report.warnings
    assert warning["source"] == "checks.toml"
    assert "expects 001_no_such_source.txt, an unknown source" in warning["warning"]


SOURCES_TOML = """
["001_a36cb266d627397a.txt"]
title = "Report: Iranian Commanders Fighting Alongside Taliban Inside Afghanistan"

["002_e07d2383dc8947a8.txt"]
title = "Tehran's support for Afghan Taliban reveals 'dual-track strategy'"
outlet = "Salaam Times"
not_stated = ["published", "url"]

["003_eb7467070494d04b.txt"]
title = "Taliban and Iran: Does the movement pose a threat to the mullah regime?"
outlet = "The Reference (CEMO Center, Paris)"
published = "2021-08-17"

["004_9fd61aad6fe509e9.txt"]
title = "The Iranian regime's ties with Taliban"
outlet = "PMOI/MEK"
published = "2019-01-02"
url = "https://www.example.org/ties"
"""


def test_a_build_lists_the_sources_that_do_not_state_outlet_date_or_url(tmp_path: Path, seeds_copy: Path):
    """`index build` (its JSON report and its summary) names the sources whose outlet, date or url is not in
    sources.toml, and only those, so that moderators can fill them in; a field marked `not_stated` (the article
    gives none) is not asked for."""
    (seeds_copy / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    report = build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder())
    missing = {gap["source"]: gap["missing"] for gap in report.to_json()["unattributed"]}
    assert "004_9fd61aad6fe509e9.txt" not in missing  # it states all three
    assert "002_e07d2383dc8947a8.txt" not in missing  # the article states no date and no url, as marked
    assert missing["003_eb7467070494d04b.txt"] == ["url"]
    assert missing["001_a36cb266d627397a.txt"] == ["outlet", "published", "url"]
    summary = build_summary(report)
    assert "not stated in sources.toml" in summary and "    001_a36cb266d627397a.txt: outlet, published, url" in summary
    assert "004_9fd61aad6fe509e9.txt" not in summary and "002_e07d2383dc8947a8.txt" not in summary


def test_the_sources_not_stated_are_listed_once_when_first_built(tmp_path: Path, seeds_copy: Path):
    """The build that first indexes a source lists what sources.toml lacks for it; a later build lists only the
    sources it indexes anew (added or changed), so an unchanged corpus is not told the same again."""
    (seeds_copy / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    store = Store.open(make_settings(tmp_path, seeds_copy))
    first = build(seeds_copy, store, FakeEmbedder())
    assert {gap["source"] for gap in first.unattributed} == {"000_cc1c5ba2909303bf.txt", "001_a36cb266d627397a.txt",
                                                             "003_eb7467070494d04b.txt"}
    again = build(seeds_copy, store, FakeEmbedder())
    assert again.unattributed == [] and "not stated" not in build_summary(again)
    with (seeds_copy / "001_a36cb266d627397a.txt").open("a", encoding="utf-8") as f:
        f.write(f"\n{PROSE}\n")
    changed = build(seeds_copy, store, FakeEmbedder())
    assert changed.unattributed == [{"source": "001_a36cb266d627397a.txt", "missing": ["outlet", "published", "url"]}]


def test_an_unknown_option_gets_the_usage_of_its_command(fake_index: dict[str, str]):
    """`bot ask --jsn` and `index build --jsn` name the option and print that command's usage (exit 2), not the
    usage of `python -m bot` or `python -m index`."""
    asked = run(["bot", "ask", "--jsn", "Who trains Taliban fighters?"], fake_index)
    assert asked.returncode == 2 and asked.stdout == ""
    assert asked.stderr.startswith("usage: python -m bot ask ") and "unrecognized arguments: --jsn" in asked.stderr
    built = run(["index", "build", "--jsn"], fake_index)
    assert built.returncode == 2
    assert built.stderr.startswith("usage: python -m index build ") and "unrecognized arguments: --jsn" in built.stderr


def test_a_folder_as_database_path_is_named_as_such(fake_index: dict[str, str], tmp_path: Path):
    """DATABASE_PATH naming a folder stops `bot stats` and `bot log migrate` with exit 2, saying it is a folder and
    what to set instead, not with SQLite's "disk I/O error"."""
    folder = tmp_path / "logs"
    folder.mkdir()
    env = {**fake_index, "DATABASE_PATH": str(folder)}
    for command in (["bot", "stats"], ["bot", "log", "migrate"]):
        result = run(command, env)
        assert result.returncode == 2, result.stderr
        assert f"DATABASE_PATH is {folder}, which is a folder" in result.stderr
        assert "set DATABASE_PATH to a file" in result.stderr and "disk I/O" not in result.stderr


def test_a_file_as_chroma_path_is_named_as_such(fake_index: dict[str, str], tmp_path: Path):
    """CHROMA_PATH naming a file stops `index build` and `bot ask` with exit 2, saying it is a file and what to set
    instead, rather than that there is no index or that a file exists."""
    file = tmp_path / "chroma.txt"
    file.write_text("not a store\n", encoding="utf-8")
    for command in (["index", "build"], ["bot", "ask", "Who trains Taliban fighters?"]):
        result = run(command, {**fake_index, "CHROMA_PATH": str(file)})
        assert result.returncode == 2, result.stderr
        assert f"CHROMA_PATH is {file}, which is a file, not a folder" in result.stderr
        assert "File exists" not in result.stderr and "no index" not in result.stderr


def test_health_exits_as_the_readme_says(fake_index: dict[str, str]):
    """`bot health` exits 1 when no bot answers and when what answers on the port is not Dossier's health (an
    other web server's 404 page, a server that hangs up), 2 without HEALTH_PORT; the README's usage line says so."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in readme.splitlines() if line.startswith(".venv/bin/python -m bot health"))
    assert "0 healthy" in line and "1 not" in line and "2 " in line
    env = {k: v for k, v in fake_index.items() if k != "HEALTH_PORT"}
    assert run(["bot", "health"], env).returncode == 2
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.listen()
        nobody = run(["bot", "health"], {**env, "HEALTH_PORT": str(port + 1 if port < 65535 else port - 1)})
        assert nobody.returncode == 1 and nobody.stdout.startswith("unhealthy: no bot answers")

        def serve(reply: bytes) -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(reply)

        for reply in (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\n<p>no</p>",
                      b"garbage\r\n\r\n"):
            server = threading.Thread(target=serve, args=(reply,))
            server.start()
            other = run(["bot", "health"], {**env, "HEALTH_PORT": str(port)})
            server.join()
            assert other.returncode == 1, other.stderr
            assert other.stdout.startswith("unhealthy: ") and "Traceback" not in other.stderr


def slow_loading(seconds: float) -> DeferredEmbedder:
    """The fake model behind a deferred load that takes `seconds`, as loading the real one takes many."""
    def load(name: str) -> Any:
        time.sleep(seconds)
        return FakeEmbedder(name)

    return DeferredEmbedder(FakeEmbedder().name, load)


def test_a_summary_says_what_the_time_went_to(tmp_path: Path, seeds_copy: Path):
    """A build's summary says how many passages it embedded apart from its time, and how much of that time went to
    loading the model; a build that only removes a source loads none and says nothing of it."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    build(seeds_copy, store, FakeEmbedder())
    (seeds_copy / "004_9fd61aad6fe509e9.txt").unlink()
    removed = build(seeds_copy, store, slow_loading(0.6))
    assert removed.switched and removed.embedded == 0 and removed.model_seconds == 0
    assert "loading the embedding model" not in build_summary(removed)
    (seeds_copy / "005_new.txt").write_text("A new report\n\nThe border council met twice this spring to discuss the "
                                            "crossing, officials said on Monday.\n", encoding="utf-8")
    added = build(seeds_copy, store, slow_loading(0.6))
    assert added.switched and added.embedded > 0 and added.model_seconds >= 0.6
    summary = build_summary(added)
    assert f"{added.embedded} passages embedded in" not in summary
    assert re.search(rf"{added.embedded} passages embedded; the build took \d+\.\d s, (\d+\.\d) s of it loading "
                     r"the embedding model", summary), summary
    assert added.to_json()["model_seconds"] >= 0.6


def test_force_with_nothing_changed_says_it_forced_nothing(fake_index: dict[str, str]):
    """`index build --force` with nothing changed says that --force had nothing to force, and the summary of a
    build without --force does not mention it."""
    forced = run(["index", "build", "--force"], fake_index)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("Nothing changed: generation 1 stays live")
    assert "--force forced nothing: nothing changed, so there was nothing to switch to" in forced.stdout
    assert "--force" not in run(["index", "build"], fake_index).stdout


def readme_build_keys() -> list[str]:
    """The keys the operator's guide lists for `build --json`, in its paragraph on that object."""
    readme = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("`build --json` ends with one JSON object"):]
    paragraph = paragraph[: paragraph.index("\n\n")]
    paragraph = re.sub(r"\([^()]*(?:\([^()]*\)[^()]*)*\)", "", paragraph)  # what is in brackets describes a key
    return re.findall(r"`(\w+)`", paragraph.split(":", 1)[1])


def test_build_json_always_has_the_keys_the_readme_lists(fake_index: dict[str, str], tmp_path: Path):
    """Every key the operator's guide lists for `build --json` is in the object whether the build switched, changed
    nothing or was held back (null where it has no value), so a script can read them without checking first."""
    keys = readme_build_keys()
    assert {"documents", "corroboration", "checks", "errors", "switched", "stages"} <= set(keys), keys
    nothing = json.loads(run(["index", "build", "--json"], fake_index).stdout.splitlines()[-1])
    (tmp_path / "empty").mkdir()
    held = json.loads(run(["index", "build", "--json"], {**fake_index, "SEEDS_DIR": str(tmp_path / "empty")})
                      .stdout.splitlines()[-1])
    for report in (nothing, held):
        assert [key for key in keys if key not in report] == [], report
        assert report["checks"] is None and report["corroboration"] is None


def test_the_discord_format_is_described_as_what_it_prints(fake_index: dict[str, str]):
    """`ask --format discord` prints a message's content, embeds and allowed mentions, not its buttons: its help and
    the README say so rather than calling it the exact payload."""
    helped = run(["bot", "ask", "--help"], fake_index).stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in readme.splitlines() if line.startswith(".venv/bin/python -m bot ask --format discord"))
    for said in (" ".join(helped.split()), line):
        assert "content and embeds" in said and "without its buttons" in said, said
        assert "exact" not in said


@pytest.mark.parametrize("name, value", [
    ("DATABASE_URL", "mysql://dossier:Sup3rS3cretWord@db.internal:5432/dossier"),
    ("QUESTION_LOG_KEY", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"),
], ids=["database url", "log key"])
def test_verbose_shows_no_secret(fake_index: dict[str, str], name: str, value: str):
    """A malformed DATABASE_URL or QUESTION_LOG_KEY stops `bot -v stats` with exit 2 naming the setting, and neither
    the line nor the traceback -v adds shows any part of the value."""
    for verbose in (["-v"], []):
        result = run(["bot", *verbose, "stats"], {**fake_index, name: value})
        assert result.returncode == 2, result.stderr
        assert f"error: {name} must be" in result.stderr
        secret = value.split(":")[2].split("@")[0] if name == "DATABASE_URL" else value[8:24]
        assert secret not in result.stderr and "input_value" not in result.stderr, result.stderr
