"""The package itself: python3 -m resque, finding the binary, options."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import resque
from resque._cli import options
from conftest import PY, python_env


def test_module_forwards_to_the_cli(resque_bin: str) -> None:
    p = subprocess.run([PY, "-m", "resque", "--version"], capture_output=True, text=True,
                       env=python_env(RESQUE_BIN=resque_bin))
    direct = subprocess.run([resque_bin, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == direct.stdout and p.stdout.startswith("resque ")


def test_module_passes_the_exit_status_and_message(resque_bin: str, tmp_path: Path) -> None:
    p = subprocess.run([PY, "-m", "resque", "show", "v1"], capture_output=True, text=True,
                       cwd=tmp_path, env=python_env(RESQUE_BIN=resque_bin))
    assert p.returncode == 1
    assert "not in a resque repository" in p.stderr
    p = subprocess.run([PY, "-m", "resque", "init", "--no-such-option"], capture_output=True,
                       text=True, cwd=tmp_path, env=python_env(RESQUE_BIN=resque_bin))
    assert p.returncode == 2 and "unknown option" in p.stderr
    assert not (tmp_path / ".resque").exists()


def test_module_without_a_binary(tmp_path: Path) -> None:
    env = python_env(RESQUE_BIN=str(tmp_path / "missing"))
    p = subprocess.run([PY, "-m", "resque", "--version"], capture_output=True, text=True, env=env)
    assert p.returncode == 127 and "missing" in p.stderr
    env = python_env(PATH=str(tmp_path))
    env.pop("RESQUE_BIN", None)
    p = subprocess.run([PY, "-m", "resque", "--version"], capture_output=True, text=True, env=env)
    assert p.returncode == 127 and "RESQUE_BIN" in p.stderr


def test_binary_from_path(resque_bin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESQUE_BIN")
    monkeypatch.setenv("PATH", str(Path(resque_bin).parent))
    assert resque.binary() == resque_bin
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(resque.Error) as e:
        resque.binary()
    assert e.value.status == 127


def test_options_map_keywords_to_flags() -> None:
    assert options({"from_": "v1", "train_size": 5, "dry_run": True, "backtest": False,
                    "kind": None, "dataset": ["a", "b"], "meta": {"lr": 0.1}}) == [
        "--from", "v1", "--train-size", "5", "--dry-run", "--dataset", "a", "--dataset", "b",
        "--meta", "lr=0.1"]


def test_error_classes() -> None:
    assert issubclass(resque.IntegrityError, resque.Error)
    e = resque.Error("resque: bad", 2)
    assert (e.message, e.status, str(e)) == ("resque: bad", 2, "resque: bad (exit status 2)")
    assert resque.IntegrityError("x", 3, '{"ok": false}').result == {"ok": False}
