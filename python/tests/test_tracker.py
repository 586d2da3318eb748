"""resque.track: under `resque run`, attached (against a fake resque that
follows the interface of `run --attach`, and end to end when the CLI has
it)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import resque
from conftest import FAKE, PY, python_env

SCRIPT = """
import sys, resque
with resque.track(name="ignored-under-run", meter="estimate") as t:
    assert t.under_run
    for i in range(3):
        t.epoch(accuracy=0.5 + i / 10, loss=1e-05, grad_norm=2)
        if i == 1 and "crash" in sys.argv:
            raise RuntimeError("diverged")
    t.target_reached()
assert t.stop is not None and t.actual is None
print("script done", file=sys.stderr)
"""


def run_script(resque_bin: str, repo: resque.Repo, *args: str, ok: int = 0) -> dict:
    script = Path(repo.path) / "train.py"
    script.write_text(SCRIPT)
    p = subprocess.run([resque_bin, "run", "--meter", "estimate", "--json", "--", PY, "train.py",
                        *args], cwd=repo.path, capture_output=True, text=True, env=python_env())
    assert p.returncode == ok, p.stderr
    return json.loads(p.stdout)


def test_under_resque_run_epochs_metrics_target(resque_bin: str, repo: resque.Repo) -> None:
    a = run_script(resque_bin, repo)
    assert a["epochs"] == 3 and a["status"] == "succeeded" and a["target"] == "reached"
    assert a["body"]["metrics"] == {"accuracy": [0.5, 0.6, 0.7], "loss": [1e-05] * 3,
                                    "grad_norm": [2.0] * 3}
    assert repo.show(a["id"])["epochs"] == 3
    assert "warning" not in json.dumps(a.get("events_notes", ""))


def test_under_resque_run_a_crash_records_a_failed_actual(resque_bin: str, repo: resque.Repo) -> None:
    a = run_script(resque_bin, repo, "crash", ok=1)
    assert a["status"] == "failed" and a["exit_status"] == 1
    assert a["epochs"] == 2 and a["target"] is None
    assert a["body"]["metrics"]["accuracy"] == [0.5, 0.6]
    assert repo.show(a["id"])["status"] == "failed"


def test_under_run_writes_only_the_events_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ev = tmp_path / "events"
    ev.write_text("")
    monkeypatch.setenv("RESQUE_EVENTS", str(ev))
    monkeypatch.setenv("RESQUE_BIN", str(tmp_path / "must-not-run"))
    t = resque.track(plan="abcd")
    t.start()
    t.epoch(acc=1)
    t.epoch(5, loss=0.25)
    t.metric(lr=0.001)
    t.target_missed()
    t.target_reached()
    assert t.stop() is None
    assert ev.read_text() == ("epoch\nmetric acc 1.0\nepoch 5\nmetric loss 0.25\n"
                              "metric lr 0.001\ntarget missed\ntarget reached\n")
    assert list(tmp_path.iterdir()) == [ev]


def test_bad_metrics_are_refused_and_nothing_written(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ev = tmp_path / "events"
    ev.write_text("")
    monkeypatch.setenv("RESQUE_EVENTS", str(ev))
    with resque.track() as t:
        with pytest.raises(ValueError, match="metric name 'bad name'"):
            t.epoch(**{"bad name": 1})
        with pytest.raises(ValueError, match="not a finite number"):
            t.epoch(loss=float("nan"))
        with pytest.raises(TypeError, match="not a number"):
            t.metric(loss="high")
        with pytest.raises(TypeError, match="bool"):
            t.metric(ok=True)
        with pytest.raises(TypeError, match="str"):
            t.metric(loss="0.5")
        with pytest.raises(TypeError, match="not a number"):
            t.metric(huge=10**400)
        with pytest.raises(ValueError, match="not a finite number"):
            t.metric(tiny=5e-324)
        with pytest.raises(ValueError, match="epoch number"):
            t.epoch(1.9)
        with pytest.raises(ValueError, match="epoch number"):
            t.epoch(0)
    assert ev.read_text() == ""
    with pytest.raises(RuntimeError, match="not started"):
        t.epoch()


def test_a_lost_events_file_warns_once_and_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RESQUE_EVENTS", str(tmp_path / "gone"))
    with resque.track() as t:
        t.epoch(acc=1)
        t.epoch(acc=2)
    err = capsys.readouterr().err
    assert err.count("cannot write the events file") == 1 and str(tmp_path / "gone") in err
    assert not (tmp_path / "gone").exists()


# --- the attach path, against a fake resque ---------------------------------

@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """RESQUE_BIN = a fake resque; returns the log of its invocations."""
    wrapper = tmp_path / "resque"
    wrapper.write_text(f'#!/bin/sh\nexec {PY} "{FAKE}" "$@"\n')
    wrapper.chmod(0o755)
    log = tmp_path / "fake.log"
    monkeypatch.setenv("RESQUE_BIN", str(wrapper))
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.delenv("FAKE_MODE", raising=False)
    return log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_attach_spawns_run_attach_and_returns_the_actual(fake: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with resque.track(plan="p1", name="n1", repo=tmp_path, meter="estimate") as t:
        assert not t.under_run
        events = t.events_file
        assert events and os.path.exists(events)
        t.epoch(acc=0.5)
        t.epoch(acc=0.75)
        t.target_reached()
    (c,) = calls(fake)
    assert c["argv"] == ["run", "--attach", str(os.getpid()), "--events", events, "--json",
                         "--plan", "p1", "--name", "n1", "--meter", "estimate"]
    assert c["cwd"] == str(tmp_path)
    a = t.actual
    assert a is not None and a["epochs"] == 2 and a["status"] == "succeeded"
    assert a["target"] == "reached" and a["body"]["metrics"] == {"acc": [0.5, 0.75]}
    assert {"energy_kwh", "carbon_kg", "duration_s", "method", "inside_p80"} <= a.keys()
    assert not os.path.exists(events)
    err = capsys.readouterr().err
    assert "a warning before attaching" in err and "attached to PID" not in err


def test_attach_start_stop_for_notebooks(fake: Path, tmp_path: Path) -> None:
    t = resque.track(repo=tmp_path).start()
    t.epoch()
    a = t.stop()
    assert a == t.actual and a["epochs"] == 1 and a["plan"] is None and a["name"] is None
    with pytest.raises(RuntimeError):
        t.stop()
    t.start()  # a tracker can be started again: a second run
    t.epoch()
    t.epoch()
    assert t.stop()["epochs"] == 2 and len(calls(fake)) == 2


def test_attach_exception_records_a_failed_actual(fake: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        with resque.track(repo=tmp_path) as t:
            t.epoch(loss=1)
            raise KeyError("boom")
    assert t.actual is not None and t.actual["status"] == "failed" and t.actual["epochs"] == 1


def test_attach_timeout(fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "noattach")
    before = set(os.listdir(tempfile.gettempdir()))
    t0 = time.monotonic()
    with pytest.raises(resque.Error, match=r"did not attach to PID \d+ within 0.5 s"):
        with resque.track(repo=tmp_path, attach_timeout=0.5):
            pass
    assert time.monotonic() - t0 < 10
    assert not {n for n in set(os.listdir(tempfile.gettempdir())) - before if "resque-track" in n}


def test_attach_failure_carries_message_and_status(fake: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "fail")
    ran = []
    with pytest.raises(resque.Error) as e:
        with resque.track(repo=tmp_path):
            ran.append(1)
    assert not ran and e.value.status == 1
    assert e.value.message == f"resque: no process with PID {os.getpid()}"


def test_attach_integrity_error_and_bad_output(fake: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "exit3")
    t = resque.track(repo=tmp_path).start()
    with pytest.raises(resque.IntegrityError) as e:
        t.stop()
    assert e.value.status == 3 and "integrity" in e.value.message
    monkeypatch.setenv("FAKE_MODE", "garbage")
    t = resque.track(repo=tmp_path).start()
    with pytest.raises(resque.Error, match="not JSON"):
        t.stop()


def test_attach_without_a_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESQUE_BIN", str(tmp_path / "nothing"))
    with pytest.raises(resque.Error) as e:
        resque.track(repo=tmp_path).start()
    assert e.value.status == 127


KILLED = """
import os, signal, sys, resque
t = resque.track(repo=sys.argv[1]).start()
t.epoch(acc=1)
print(t.events_file, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_tracker_leaves_no_file_behind(fake: Path, tmp_path: Path) -> None:
    p = subprocess.run([PY, "-c", KILLED, str(tmp_path)], capture_output=True, text=True,
                       env=python_env())
    assert p.returncode == -signal.SIGKILL
    events = p.stdout.strip()
    assert "resque-track-" in events
    assert os.path.exists(events) and len(calls(fake)) == 1
    with resque.track(repo=tmp_path) as t:  # the next tracker sweeps the dead one's file
        assert not os.path.exists(events)
    assert t.actual is not None and not os.path.exists(t.events_file or "")


# --- end to end, with the real `resque run --attach` -------------------------

def has_attach(resque_bin: str) -> bool:
    p = subprocess.run([resque_bin, "run", "--help"], capture_output=True, text=True)
    return "--attach" in p.stdout


ATTACHED = """
import json, sys, time, resque
try:
    with resque.track(name=sys.argv[1], meter="estimate") as t:
        for i in range(3):
            time.sleep(0.2)
            t.epoch(accuracy=0.25 * (i + 1))
            if sys.argv[1] == "crash" and i == 1:
                raise RuntimeError("diverged")
        t.target_missed()
finally:
    print(json.dumps(t.actual))
"""


def attached_run(repo: resque.Repo, name: str, ok: int) -> dict:
    p = subprocess.run([PY, "-c", ATTACHED, name], cwd=repo.path, capture_output=True,
                       text=True, env=python_env(), timeout=120)
    assert p.returncode == ok, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


def test_end_to_end_attach(resque_bin: str, repo: resque.Repo) -> None:
    if not has_attach(resque_bin):
        pytest.skip("'resque run --help' does not mention --attach: the CLI has no attach yet")
    a = attached_run(repo, "att", 0)
    assert a["status"] == "succeeded" and a["epochs"] == 3 and a["name"] == "att"
    assert a["target"] == "missed" and a.get("exit_status") is None
    assert a["method"] == "estimated" and a["energy_kwh"] >= 0
    assert a["body"]["metrics"] == {"accuracy": [0.25, 0.5, 0.75]}
    assert repo.show(a["id"])["epochs"] == 3
    f = attached_run(repo, "crash", 1)
    assert f["status"] == "failed" and f["epochs"] == 2 and f["name"] == "crash"
    assert repo.show(f["id"])["status"] == "failed"


def test_a_nested_tracker_and_resque_mark_write_to_the_outer_events(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a tracker, RESQUE_EVENTS names its events file: `resque mark`,
    child scripts and nested trackers report to the one meter; after the
    block the variable is as before."""
    ev = tmp_path / "events"
    ev.write_text("")
    monkeypatch.setenv("RESQUE_EVENTS", str(ev))
    with resque.track() as outer:
        assert outer.under_run
        with resque.track(plan="p") as inner:
            assert inner.under_run and inner.events_file == str(ev)
            inner.epoch(loss=1.0)
    assert ev.read_text() == "epoch\nmetric loss 1.0\n"
    assert os.environ["RESQUE_EVENTS"] == str(ev)


KILLED_REAL = """
import os, signal, subprocess, sys, time, resque
t = resque.track(name="killed", meter="estimate").start()
assert os.environ["RESQUE_EVENTS"] == t.events_file
subprocess.run([os.environ["RESQUE_BIN"], "mark", "epoch"], check=True)
t.epoch(loss=0.5)
time.sleep(0.3)
if os.fork() == 0:          # a child falls out without touching the meter
    assert t.stop() is None
    os._exit(0)
os.wait()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_end_to_end_a_killed_script_is_recorded_as_failed(resque_bin: str, repo: resque.Repo) -> None:
    """From the review of issue 15: with no region set (the meter then
    warns on stderr), a script killed outright must still leave its actual,
    failed; `resque mark` reaches the tracker's events; a forked child's
    stop() does nothing."""
    if not has_attach(resque_bin):
        pytest.skip("'resque run --help' does not mention --attach")
    p = subprocess.run([PY, "-c", KILLED_REAL], cwd=repo.path, capture_output=True, text=True,
                       env=python_env(), timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr
    for _ in range(100):
        actuals = [e for e in repo.log() if e["type"] == "actual"]
        if actuals:
            break
        time.sleep(0.1)
    assert actuals, "no actual was recorded"
    a = repo.show(actuals[0]["id"])
    assert a["status"] == "failed" and a["name"] == "killed" and a["epochs"] == 2, a
