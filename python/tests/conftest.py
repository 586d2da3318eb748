"""Shared fixtures: the CLI under test ($RESQUE_BIN), a private RESQUE_HOME,
fresh repositories."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
FAKE = HERE / "fake_resque.py"
PY = "/usr/bin/python3"


@pytest.fixture(scope="session")
def resque_bin() -> str:
    """The real CLI: $RESQUE_BIN (tests/t1100-python.sh sets it)."""
    b = os.environ.get("RESQUE_BIN")
    if not b or not os.access(b, os.X_OK):
        pytest.skip("RESQUE_BIN is not set to the resque binary")
    return b


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's keys; no RESQUE_EVENTS leaks in."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("RESQUE_HOME", str(home / "resque"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("RESQUE_EVENTS", raising=False)
    monkeypatch.delenv("RESQUE_DIR", raising=False)
    monkeypatch.delenv("RESQUE_PASSPHRASE", raising=False)


def cli(bin_: str, *args: str, cwd: str | os.PathLike[str] | None = None, ok: int = 0,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI directly (the reference the Python side is compared with)."""
    p = subprocess.run([bin_, *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert p.returncode == ok, (args, p.returncode, p.stderr)
    return p


def cli_json(bin_: str, *args: str, cwd: str | os.PathLike[str] | None = None) -> Any:
    return json.loads(cli(bin_, *args, cwd=cwd).stdout)


def python_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python that imports this tree's package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.fixture
def repo(resque_bin: str, tmp_path: Path):
    """A fresh initialised repository (a resque.Repo)."""
    import resque
    r = resque.Repo(tmp_path / "proj")
    r.init()
    return r
