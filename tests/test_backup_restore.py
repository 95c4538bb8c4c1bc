"""A backup taken as docs/operating.md says (the log's key, the log, the index, the corpus), restored into a fresh
folder, answers the same questions the same and reports the same gaps and stats."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.settings import IndexSettings
from tests.conftest import ROOT, SEEDS, copy_of_seed_index

QUESTIONS = ["Where were Taliban fighters trained in Iran?",
             "Which Iranian diplomat did the Herat police accuse of directing the killings?",
             "How many drones did the Taliban buy from Belarus?",
             "What did the Wolesi Jirga vote on the Zaranj dam?",
             "How do I bake sourdough bread at home?"]
LOG = Path("data") / "dossier.sqlite3"
KEY = Path("data") / "dossier.sqlite3.key"


def command(folder: Path, *args: str, stdin: str | None = None) -> str:
    """`python -m ARGS` for a deployment in `folder` (its seeds/, data/chroma and question log); its stdout."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("CHROMA_HOST", "CHROMA_PORT", "DATABASE_URL", "QUESTION_LOG_KEY", "DISCORD_TOKEN")}
    env |= {"SEEDS_DIR": str(folder / "seeds"), "CHROMA_PATH": str(folder / "data" / "chroma"),
            "DATABASE_PATH": str(folder / LOG), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", *args], input=stdin, env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def reports(folder: Path) -> tuple[dict[str, object], dict[str, object]]:
    """`bot gaps --json` and `bot stats --json` of the deployment in `folder`."""
    return json.loads(command(folder, "bot", "gaps", "--json")), json.loads(command(folder, "bot", "stats", "--json"))


@pytest.mark.slow
def test_a_backup_restored_into_a_fresh_folder_answers_and_reports_the_same(
        tmp_path: Path, seeds_settings: IndexSettings) -> None:
    """Questions asked with `bot ask --log`; a backup of the key, the log (exported, and as a file once no process
    holds it), the index folder and the corpus; restored into fresh folders, the log imported or copied back: a build
    there has nothing to do, the same questions get the same answers, and gaps and stats are the same."""
    live = tmp_path / "live"
    shutil.copytree(SEEDS, live / "seeds")
    copy_of_seed_index(seeds_settings, live / "data")
    answers = command(live, "bot", "ask", "--log", "--format", "json", "-", stdin="\n".join(QUESTIONS))
    gaps, stats = reports(live)
    assert gaps["groups"] and stats["questions"] == len(QUESTIONS)  # type: ignore[index]

    backup = tmp_path / "backup"  # in the order docs/operating.md gives: key, log, index, corpus
    backup.mkdir()
    shutil.copy2(live / KEY, backup / KEY.name)
    (backup / "log.jsonl").write_text(command(live, "bot", "log", "export", "--json"), encoding="utf-8")
    shutil.copy2(live / LOG, backup / LOG.name)
    shutil.copytree(live / "data" / "chroma", backup / "chroma")
    shutil.copytree(live / "seeds", backup / "seeds")

    for log in ("imported", "copied"):
        fresh = tmp_path / log
        shutil.copytree(backup / "seeds", fresh / "seeds")
        (fresh / "data").mkdir()
        shutil.copy2(backup / KEY.name, fresh / KEY)
        if log == "imported":
            command(fresh, "bot", "log", "import", str(backup / "log.jsonl"))
        else:
            shutil.copy2(backup / LOG.name, fresh / LOG)
        shutil.copytree(backup / "chroma", fresh / "data" / "chroma")
        assert (fresh / KEY).stat().st_mode & 0o777 == 0o600
        assert reports(fresh) == (gaps, stats), log

    restored = tmp_path / "imported"
    built = json.loads(command(restored, "index", "build", "--json").splitlines()[-1])
    assert (built["switched"], built["embedded"], built["changed"], built["added"]) == (False, 0, 0, 0)
    assert command(restored, "bot", "ask", "--format", "json", "-", stdin="\n".join(QUESTIONS)) == answers
