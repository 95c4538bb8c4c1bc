"""scripts/setup and scripts/run: on machines with other Pythons, played by stand-ins (tiny shell scripts on PATH
that report a version, make a stand-in virtual environment and record every call) instead of real installs; and
the real scripts/run, run twice, and with a bad setting.

The stand-in runs use a copy of the project's scripts, pyproject.toml and .env.example, with a PATH holding only
the stand-ins and the few tools the scripts use, so no Python of this machine can be found by accident.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from index.settings import IndexSettings
from tests.conftest import ROOT, SEEDS, copy_of_seed_index
from tests.pseudo_terminal import PseudoTerminal, text

TOOLS = ("bash", "cat", "cp", "cut", "dirname", "mkdir", "chmod", "rm", "sha256sum", "tail", "tee")

# A stand-in for a Python of version VERSION: it answers the version probes, `-m venv DIR` makes a stand-in
# environment (its python is this script, its pip records what it installs), and every call is recorded.
FAKE_PYTHON = r"""#!/bin/sh
echo "${0##*/} $*" >>"$CALLS"
case "$1" in
    -c) case "$2" in *version_info*) echo VERSION ;; esac ;;
    --version) echo "Python VERSION.9" ;;
    -m) if [ "$2" = venv ]; then
            mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
            printf '#!/bin/sh\necho "pip $*" >>"$CALLS"\n' >"$3/bin/pip" && chmod +x "$3/bin/pip"
        fi ;;
esac
"""


class Machine:
    """A project copy and a PATH with the given Pythons on it (name → version)."""

    def __init__(self, root: Path, pythons: dict[str, str]) -> None:
        self.project = root / "project"
        (self.project / "scripts").mkdir(parents=True)
        for name in ("scripts/setup", "scripts/run", "pyproject.toml", ".env.example"):
            shutil.copy(ROOT / name, self.project / name)
        self.bin = root / "bin"
        self.bin.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        for name, version in pythons.items():
            self.python(self.bin / name, version)
        self.calls = root / "calls"
        self.calls.touch()

    @staticmethod
    def python(path: Path, version: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FAKE_PYTHON.replace("VERSION", version))
        path.chmod(0o755)

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Runs scripts/SCRIPT with bash; the calls it made are in `self.calls`."""
        self.calls.write_text("")
        return subprocess.run([str(self.bin / "bash"), f"scripts/{script}"], cwd=self.project, capture_output=True,
                              text=True, env={"PATH": str(self.bin), "CALLS": str(self.calls), **env}, timeout=60)

    def made(self) -> list[str]:
        return self.calls.read_text().splitlines()


@pytest.mark.parametrize("script", ["setup", "run"])
def test_without_python_311_it_fails_at_once_naming_the_fix(tmp_path: Path, script: str):
    """python3 is 3.12 and there is no 3.11: set-up (and so scripts/run) stops in a moment, before making .venv,
    saying what it found and how to install 3.11."""
    machine = Machine(tmp_path, {"python3": "3.12"})
    started = time.monotonic()
    result = machine.run(script)
    assert time.monotonic() - started < 5
    assert result.returncode == 1
    assert result.stderr.startswith("error: Dossier needs Python 3.11, and this machine has none on its PATH "
                                    "(python3 is Python 3.12.9).")
    assert "sudo apt install python3.11 python3.11-venv" in result.stderr
    assert "PYTHON=/path/to/python3.11 bash scripts/run" in result.stderr
    assert not (machine.project / ".venv").exists() and not any("-m venv" in call for call in machine.made())


def test_python_311_is_found_beside_a_python3_of_another_version(tmp_path: Path):
    """python3 is 3.12 and python3.11 is installed: .venv is made by python3.11, everything is installed into it,
    and scripts/run goes on to build the index and start the bot with that environment's Python."""
    machine = Machine(tmp_path, {"python3": "3.12", "python3.11": "3.11"})
    result = machine.run("run")
    assert result.returncode == 0, result.stderr
    calls = machine.made()
    assert "python3.11 -m venv .venv" in calls and not any(c.startswith("python3 -m") for c in calls)
    pip = [c for c in calls if c.startswith("pip install")]
    assert [c.split()[-1] for c in pip] == ["pip", "torch==2.13.0", ".[build,postgres,fit,test]"]
    assert calls[-2:] == ["python -m index build", "python -m bot --or-terminal"]
    assert "Set-up 1/3: creating .venv with Python 3.11.9" in result.stderr
    assert "Set-up done in" in result.stderr and (machine.project / ".env").exists()


def test_a_venv_made_by_another_python_is_replaced(tmp_path: Path):
    """A .venv left by Python 3.12 (an earlier run without 3.11) is said to be replaced, then made again by 3.11."""
    machine = Machine(tmp_path, {"python3": "3.12", "python3.11": "3.11"})
    Machine.python(machine.project / ".venv" / "bin" / "python", "3.12")
    result = machine.run("setup")
    assert result.returncode == 0, result.stderr
    assert "Replacing .venv: it was made by Python 3.12, and Dossier needs 3.11." in result.stderr
    assert "python3.11 -m venv .venv" in machine.made()
    assert "echo 3.11" in (machine.project / ".venv" / "bin" / "python").read_text()


def test_a_second_setup_with_nothing_changed_installs_nothing(tmp_path: Path):
    """Run again with nothing changed, set-up calls pip not once and prints nothing; a changed pyproject.toml
    installs again."""
    machine = Machine(tmp_path, {"python3.11": "3.11"})
    assert machine.run("setup").returncode == 0
    again = machine.run("setup")
    assert again.returncode == 0 and again.stderr == ""
    assert not [call for call in machine.made() if call.startswith("pip")]
    with (machine.project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# a new dependency\n")
    changed = machine.run("setup")
    assert "Set-up 1/3: updating .venv, since pyproject.toml or scripts/setup changed" in changed.stderr
    installed = [c.split()[-1] for c in machine.made() if c.startswith("pip install")]
    assert installed == ["pip", "torch==2.13.0", ".[build,postgres,fit,test]"]


def test_python_names_the_python_to_use(tmp_path: Path):
    """PYTHON set to something that is not 3.11 is named in the error, even when python3.11 is on PATH."""
    machine = Machine(tmp_path, {"python3.11": "3.11", "python3.12": "3.12"})
    result = machine.run("setup", PYTHON="python3.12")
    assert result.returncode == 1
    assert "(PYTHON=python3.12 is Python 3.12.9)" in result.stderr


@pytest.fixture
def index_copy(seeds_settings: IndexSettings, tmp_path: Path) -> dict[str, str]:
    """The environment of the real scripts/run over a copy of the seed index, with no token (a blank one wins
    over a token in .env) and a home folder of its own."""
    chroma = copy_of_seed_index(seeds_settings, tmp_path)
    return {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(chroma), "DISCORD_TOKEN": " ",
            "HOME": str(tmp_path), "TERM": "xterm"}


def run_to_the_prompt(env: dict[str, str]) -> tuple[str, float]:
    """`bash scripts/run` on a terminal up to its first prompt, then Ctrl-D: what it showed, and how long it took
    to show the prompt."""
    started = time.monotonic()
    session = PseudoTerminal(["bash", "scripts/run"], env, ROOT)
    shown = text(session.expect(b"\n> ", timeout=600))
    took = time.monotonic() - started
    session.type(b"\x04")
    assert session.close() == 0
    return shown, took


@pytest.mark.slow
def test_a_second_run_with_nothing_changed_goes_straight_to_the_prompt(index_copy: dict[str, str]):
    """Run again with nothing changed, scripts/run skips the set-up and the model load: it says nothing changed,
    that there is no token, and is ready. (Its time to the prompt is printed: under 8 s on a quiet machine.)"""
    run_to_the_prompt(index_copy)  # the first run: whatever set-up or export this checkout still needed
    shown, took = run_to_the_prompt(index_copy)
    print(f"second scripts/run: prompt after {took:.1f} s")
    assert "Set-up" not in shown and "Loading the embedding model" not in shown and "Exporting" not in shown
    assert "Nothing changed: generation 1 stays live" in shown
    assert "No DISCORD_TOKEN set (see .env.example): terminal mode.\nLoading the model…\nReady." in shown


@pytest.mark.slow
def test_run_names_a_bad_setting_rather_than_saying_there_is_no_token(index_copy: dict[str, str]):
    """With a token set and another setting bad, scripts/run stops with exit 2 and that setting's name, not with
    "No DISCORD_TOKEN set"."""
    env = {**index_copy, "DISCORD_TOKEN": "MTIz.not-a-token.at-all", "ASK_COOLDOWN_RATE": "0"}
    result = subprocess.run(["bash", "scripts/run"], cwd=ROOT, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600)
    assert result.returncode == 2
    assert "error: ASK_COOLDOWN_RATE must be a whole number, 1 or more (it is '0')" in result.stderr
    assert "No DISCORD_TOKEN" not in result.stderr and "Traceback" not in result.stderr
