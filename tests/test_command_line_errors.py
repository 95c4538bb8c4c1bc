"""What a newcomer gets wrong on the command line, or in .env, is told once and plainly, with the README's exit
codes, before anything slow loads; and what a build reports (held, unknown sources, missing metadata) is said once.

The index here is built with the fake embedder and EMBEDDING_MODEL names it: a command that reached for a model
would fail to load one, so these tests also show that nothing is loaded before the command line is checked.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.ingest.chunking import chunk_document
from index.ingest.corpus import make_document
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


def test_a_build_lists_the_sources_that_do_not_state_outlet_date_or_url(tmp_path: Path, seeds_copy: Path):
    """`index build` (its JSON report and its summary) names the sources whose outlet, date or url is not in
    sources.toml, and only those, so that moderators can fill them in."""
    table = (seeds_copy / "sources.toml").read_text(encoding="utf-8")
    (seeds_copy / "sources.toml").write_text(
        table.replace('title = "The Iranian regime\'s ties with Taliban"',
                      'title = "The Iranian regime\'s ties with Taliban"\nurl = "https://www.example.org/ties"'),
        encoding="utf-8")
    settings = make_settings(tmp_path, seeds_copy)
    report = build(seeds_copy, Store.open(settings), FakeEmbedder())
    missing = {gap["source"]: gap["missing"] for gap in report.to_json()["unattributed"]}
    assert "004_9fd61aad6fe509e9.txt" not in missing  # it now states all three
    assert missing["003_eb7467070494d04b.txt"] == ["url"]
    assert missing["001_a36cb266d627397a.txt"] == ["outlet", "published", "url"]
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(settings.chroma_path),
           "EMBEDDING_MODEL": FakeEmbedder().name}
    summary = run(["index", "build"], env).stdout
    assert "not stated in sources.toml" in summary and "    001_a36cb266d627397a.txt: outlet, published, url" in summary
    assert "004_9fd61aad6fe509e9.txt" not in summary
