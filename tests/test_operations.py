"""The files docs/operating.md hands an operator: the systemd units, the Dockerfile and compose file (each naming
only scripts, commands and settings that exist, as the suite runs them), and the moderators' checks shipped with the
seeds, which pass on them."""

import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.__main__ import main as bot_main
from bot.settings import Settings
from index.__main__ import main as index_main
from index.builds.moderator_checks import read_checks, run_checks
from index.search.searcher import Searcher
from tests.conftest import ROOT, SEEDS

UNITS = sorted((ROOT / "deploy").glob("dossier*"))
INSTALLED = "/opt/dossier"  # where the units expect the clone
SETTINGS = {name.upper() for name in Settings.model_fields}
MAINS: dict[str, Callable[[list[str]], int]] = {"bot": bot_main, "index": index_main}
# `python -m bot health`, `.venv/bin/python -m index build`: a command line of ours, with its subcommand if any.
OUR_COMMAND = re.compile(r"python -m (bot|index)(?: ([a-z]+))?")
SCRIPT = re.compile(r"\bscripts/[a-z]+")
VENV_TOOL = re.compile(r"\.venv/bin/([a-z]+)")


def named_in(text: str) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    """The commands of ours, the scripts and the .venv tools a file runs."""
    return ({(module, sub or "") for module, sub in OUR_COMMAND.findall(text)}, set(SCRIPT.findall(text)),
            set(VENV_TOOL.findall(text)))


def assert_all_exist(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every command of ours the text runs takes --help (so its subcommand exists), every script and tool is there."""
    commands, scripts, tools = named_in(text)
    assert commands or tools, "no command of ours found"
    for module, sub in sorted(commands):
        with pytest.raises(SystemExit) as done:
            MAINS[module]([sub, "--help"] if sub else ["--help"])
        assert done.value.code == 0, f"python -m {module} {sub} --help"
        assert "usage: " in capsys.readouterr().out
    assert all((ROOT / script).is_file() for script in scripts), scripts
    assert all((ROOT / ".venv" / "bin" / tool).is_file() for tool in tools), tools


def test_the_systemd_units_run_the_bot_as_its_own_user_and_restart_it() -> None:
    """The bot's unit runs as a user of its own, from the environment file, restarts on failure (not on a bad
    setting), and a timer runs the health check that restarts it when it exits non-zero."""
    service = (ROOT / "deploy" / "dossier.service").read_text(encoding="utf-8")
    for line in ("User=dossier", "Restart=on-failure", "RestartPreventExitStatus=2",
                 "EnvironmentFile=/etc/dossier/dossier.env", "ExecStart=/opt/dossier/.venv/bin/python -m bot"):
        assert re.search(rf"^{re.escape(line)}$", service, re.MULTILINE), line
    health = (ROOT / "deploy" / "dossier-health.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/dossier/.venv/bin/python -m bot health" in health and "Requisite=dossier.service" in health
    assert "systemctl restart dossier.service" in health and "EnvironmentFile=/etc/dossier/dossier.env" in health
    assert "OnUnitActiveSec=" in (ROOT / "deploy" / "dossier-health.timer").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_verifies_the_units_without_a_word(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds no error and no warning in the units, installed where this checkout is."""
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text(encoding="utf-8").replace(INSTALLED, str(ROOT)),
                                          encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(tmp_path / u.name) for u in UNITS)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("name", ["Dockerfile", "compose.yaml", "deploy/dossier.service",
                                  "deploy/dossier-health.service"])
def test_the_deployment_files_run_only_what_exists(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each command, script and tool the Dockerfile, compose file and units run is one this checkout has."""
    assert_all_exist((ROOT / name).read_text(encoding="utf-8"), capsys)


def test_the_dockerfile_is_set_up_and_run_as_the_suite_is() -> None:
    """The image is made by scripts/setup and runs scripts/run, as a user of its own, with a health check; every
    setting it sets is one Dossier reads."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^RUN .*bash scripts/setup$", text, re.MULTILINE)
    assert re.search(r'^CMD \["bash", "scripts/run"\]$', text, re.MULTILINE)
    assert re.search(r"^USER dossier$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .* CMD \.venv/bin/python -m bot health$", text, re.MULTILINE)
    env = " ".join(re.findall(r"^ENV ((?:.*\\\n)*.*)$", text, re.MULTILINE))
    assert set(re.findall(r"([A-Z_]+)=", env)) - SETTINGS == {"HF_HUB_OFFLINE"}


def test_compose_connects_the_bot_to_its_chroma_server_and_postgresql() -> None:
    """compose.yaml's bot reads only settings Dossier has, and reaches the Chroma server and PostgreSQL it runs, on
    the port and database they serve; both Dossier services are the image built here."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    bot, chroma, postgres = services["bot"], services["chroma"], services["postgres"]
    assert set(bot["environment"]) <= SETTINGS
    assert bot["build"] == chroma["build"] == "." and bot["image"] == chroma["image"]
    assert bot["environment"]["CHROMA_HOST"] == "chroma"
    command = chroma["command"]
    assert command[:2] == [".venv/bin/chroma", "run"]
    assert command[command.index("--port") + 1] == bot["environment"]["CHROMA_PORT"]
    url = bot["environment"]["DATABASE_URL"]
    database = postgres["environment"]
    assert url.startswith(f"postgresql://{database['POSTGRES_USER']}:") and url.endswith(
        f"@postgres:5432/{database['POSTGRES_DB']}")
    assert {"chroma", "postgres"} <= set(bot["depends_on"])


def test_the_shipped_checks_pass_on_the_seeds(searcher: Searcher) -> None:
    """seeds/checks.toml holds checks of every source and of questions the corpus must not answer, and the seeds
    index passes them all, so `python -m index checks` works out of the box."""
    checks = read_checks(SEEDS)
    assert {check.expected for check in checks} == {path.name for path in SEEDS.glob("*.txt")} | {"unanswered"}
    failed = [result.to_json() for result in run_checks(checks, searcher) if not result.passed]
    assert not failed


def test_the_checks_example_in_the_docs_is_the_shipped_file() -> None:
    """docs/discord.md shows seeds/checks.toml as it is, and it reads as TOML."""
    shipped = (SEEDS / "checks.toml").read_text(encoding="utf-8")
    shown = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "discord.md").read_text(encoding="utf-8"), re.DOTALL)
    assert shown is not None and shown.group(1) == shipped
    assert len(tomllib.loads(shown.group(1))["check"]) == len(read_checks(SEEDS))


def test_index_checks_without_a_checks_file_says_there_is_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m index checks` on a seeds folder with no checks.toml says that there is no such file, and where
    to read how to write one; with an empty one, that it holds none."""
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("checks.toml"))
    monkeypatch.setenv("SEEDS_DIR", str(seeds))
    assert index_main(["checks"]) == 0
    assert capsys.readouterr().out == f"No checks: there is no {seeds / 'checks.toml'}. docs/discord.md (\"Checks " \
                                      "and rollback\") says how to write one.\n"
    (seeds / "checks.toml").write_text("# none yet\n", encoding="utf-8")
    assert index_main(["checks"]) == 0
    assert capsys.readouterr().out == f"No checks: {seeds / 'checks.toml'} holds none.\n"
