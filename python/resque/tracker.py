"""``resque.track``: report a training run's epochs, metrics and target.

Under ``resque run`` (``RESQUE_EVENTS`` set) the tracker only appends
lines to that events file (docs/FORMATS.md, "The RESQUE_EVENTS protocol");
resque meters the run and records its actual. Otherwise :meth:`Tracker.start`
creates an events file and spawns ``resque run --attach PID --events FILE
--json [--plan ID] [--name N]`` on this process, and :meth:`Tracker.stop`
tells it to stop (SIGTERM) and returns the actual it recorded.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from types import TracebackType
from typing import Any

from ._cli import Error, IntegrityError, INTEGRITY_STATUS, binary, options

__all__ = ["Tracker", "track"]

_METRIC_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,64}\Z")
_ATTACHED = re.compile(r"resque: attached to PID (\d+)\b")
_TRACK_FILE = re.compile(r"resque-track-(\d+)-[^/]+\.events")


def _value(name: str, value: Any) -> str:
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"metric {name}: {value!r} is not a number ({type(value).__name__})")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"metric {name}: {value!r} is not a number resque can record") from e
    if not math.isfinite(v) or (v != 0 and abs(v) < sys.float_info.min):
        raise ValueError(f"metric {name}: {v} is not a finite number (nor a subnormal one)")
    return repr(v)


def _sweep(directory: str) -> None:
    """Remove the events files of trackers that were killed (named after a
    process that no longer runs, owned by this user)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for n in names:
        m = _TRACK_FILE.fullmatch(n)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue
        except ProcessLookupError:
            pass
        except OSError:
            continue
        p = os.path.join(directory, n)
        try:
            st = os.lstat(p)
            if st.st_uid == os.geteuid() and os.path.isfile(p) and not os.path.islink(p):
                os.unlink(p)
        except OSError:
            pass


class Tracker:
    """A training run's tracker; see :func:`track`.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`
    (in a notebook). ``attach_timeout`` is how many seconds :meth:`start`
    waits for ``resque run --attach`` to say it is metering; other keywords
    are options of ``resque run`` (``meter="estimate"``, ``region="FR"``,
    as :class:`resque.Repo` maps them), used when it attaches.
    """

    def __init__(self, plan: str | None = None, name: str | None = None,
                 repo: str | os.PathLike[str] = ".", attach_timeout: float = 30.0,
                 **run_options: Any) -> None:
        self.plan = plan
        self.run_options = run_options
        self.name = name
        self.repo = os.fspath(repo)
        self.attach_timeout = attach_timeout
        self.actual: dict[str, Any] | None = None
        self._events: str | None = None
        self._own_events = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: list[str] = []
        self._reader: threading.Thread | None = None
        self._started = False
        self._attached = False
        self._warned = False
        self._reader_done = threading.Event()
        self._pid = 0                      # the process that started it
        self._saved_env: str | None = None

    @property
    def under_run(self) -> bool:
        """Whether this tracker only writes the events of an enclosing ``resque run``."""
        return self._started and not self._own_events

    @property
    def events_file(self) -> str | None:
        """The events file written to (None before :meth:`start`)."""
        return self._events

    def start(self) -> "Tracker":
        """Start tracking: under ``resque run`` use its events file, else attach a meter.

        Raises :class:`resque.Error` when ``resque run --attach`` fails or
        does not attach within ``attach_timeout`` seconds.
        """
        if self._started:
            raise RuntimeError("this tracker is already started")
        self.actual, self._proc, self._reader, self._stderr = None, None, None, []
        self._attached, self._warned = False, False
        self._reader_done = threading.Event()
        inherited = os.environ.get("RESQUE_EVENTS")
        self._pid = os.getpid()
        if inherited:
            # under `resque run`, or inside another tracker: that run meters
            # this process already; only its events file is written
            if self.plan is not None or self.name is not None:
                print("resque: track(): the enclosing run (resque run, or another tracker) records the "
                      "actual; plan= and name= are ignored here", file=sys.stderr, flush=True)
            self._events, self._own_events = inherited, False
            self._started = True
            return self
        _sweep(tempfile.gettempdir())
        fd, self._events = tempfile.mkstemp(prefix=f"resque-track-{os.getpid()}-", suffix=".events")
        os.close(fd)
        self._own_events = True
        try:
            self._spawn()
        except BaseException:
            self._cleanup()
            raise
        # `resque mark`, child scripts and nested trackers write here too
        self._saved_env = os.environ.get("RESQUE_EVENTS")
        os.environ["RESQUE_EVENTS"] = self._events
        self._started = True
        return self

    def _spawn(self) -> None:
        assert self._events is not None
        argv = [binary(), "run", "--attach", str(os.getpid()), "--events", self._events, "--json"]
        if self.plan is not None:
            argv += ["--plan", str(self.plan)]
        if self.name is not None:
            argv += ["--name", str(self.name)]
        argv += options(self.run_options)
        if not os.path.isdir(self.repo):
            raise Error(f"resque: {self.repo}: no such directory (the repository's)", 1)
        try:
            # its own session: a Ctrl-C in the terminal reaches the script only
            self._proc = subprocess.Popen(argv, cwd=self.repo, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          start_new_session=True)
        except OSError as e:
            raise Error(f"resque: cannot run {argv[0]}: {e.strerror}", 127) from e
        attached = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, args=(attached,), daemon=True)
        self._reader.start()
        attached.wait(self.attach_timeout)
        if self._attached:
            return
        if self._proc.poll() is None and not self._reader_done.wait(1):
            self._proc.kill()
            self._proc.wait()
            raise Error(f"resque: 'resque run --attach' did not attach to PID {os.getpid()} within "
                        f"{self.attach_timeout:g} s", 1)
        self._proc.wait()
        self._reader.join(5)
        raise self._failure("resque run --attach")

    def _read_stderr(self, attached: threading.Event) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = _ATTACHED.match(line)
            if not attached.is_set() and m and int(m.group(1)) == os.getpid():
                self._attached = True
                attached.set()
                continue
            self._stderr.append(line)
            print(line, file=sys.stderr, flush=True)
        self._reader_done.set()
        attached.set()

    def _failure(self, what: str) -> Error:
        assert self._proc is not None
        status = self._proc.returncode
        message = "\n".join(self._stderr).strip() or f"resque: {what} failed"
        if status == INTEGRITY_STATUS:
            return IntegrityError(message, status)
        return Error(message, status if status is not None and status > 0 else 1)

    def _write(self, text: str) -> None:
        if not self._started or self._events is None:
            raise RuntimeError("the tracker is not started (use 'with resque.track(...)' or start())")
        # one append per call: lines from `resque mark` or threads never interleave
        try:
            fd = os.open(self._events, os.O_WRONLY | os.O_APPEND)
            try:
                data = text.encode()
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
        except OSError as e:
            # never stop a training run for its report: say it once, go on
            if not self._warned:
                self._warned = True
                print(f"resque: cannot write the events file {self._events}: {e.strerror} "
                      "(epochs and metrics are not recorded)", file=sys.stderr, flush=True)

    def epoch(self, number: int | None = None, /, **metrics: Any) -> None:
        """An epoch has ended: an ``epoch [N]`` line, then ``metric NAME VALUE`` lines.

        ``number`` is the epoch's number (default: the next one). Metric
        names are 1-64 of ``A-Z a-z 0-9 _ . : / -``; values finite numbers
        (Python, numpy or 0-d torch scalars).
        """
        if number is not None and (isinstance(number, bool) or not isinstance(number, int) or
                                   not 1 <= number <= 10_000_000):
            raise ValueError(f"epoch number {number!r}: a whole number from 1 to 10,000,000")
        lines = ["epoch" if number is None else f"epoch {number}"]
        lines += [f"metric {k} {_value(k, v)}" for k, v in self._checked(metrics)]
        self._write("".join(line + "\n" for line in lines))

    def metric(self, **metrics: Any) -> None:
        """Report metrics without ending an epoch (``metric NAME VALUE`` lines)."""
        self._write("".join(f"metric {k} {_value(k, v)}\n" for k, v in self._checked(metrics)))

    @staticmethod
    def _checked(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
        for k in metrics:
            if not _METRIC_NAME.match(k):
                raise ValueError(f"metric name {k!r}: use 1-64 of A-Z a-z 0-9 _ . : / -")
        return list(metrics.items())

    def target_reached(self) -> None:
        """The run reached the target it trained for (``target reached``)."""
        self._write("target reached\n")

    def target_missed(self) -> None:
        """The run stopped (at a budget) before its target (``target missed``)."""
        self._write("target missed\n")

    def stop(self, failed: bool = False) -> dict[str, Any] | None:
        """Stop tracking and return the recorded actual.

        With ``failed`` (set by the context manager when an exception is
        propagating) a ``status failed`` line is written first. Under
        ``resque run`` nothing is stopped and None is returned: that run
        records the actual when the script exits, its status from the
        exit status. Otherwise the attached ``resque run`` is sent SIGTERM
        and the actual it printed (``resque run --json``) is returned; a
        failure to record it raises :class:`resque.Error`.
        """
        if not self._started:
            raise RuntimeError("the tracker is not started")
        if os.getpid() != self._pid:
            # a child made by fork() inside the block: the meter is the
            # parent's, and the parent stops it
            return None
        self._started = False
        if not self._own_events:
            return None
        if self._saved_env is None:
            os.environ.pop("RESQUE_EVENTS", None)
        else:
            os.environ["RESQUE_EVENTS"] = self._saved_env
        try:
            if failed:
                self._write_status_failed()
            return self._stop_meter()
        finally:
            self._cleanup()

    def _write_status_failed(self) -> None:
        self._started = True
        try:
            self._write("status failed\n")
        finally:
            self._started = False

    def _stop_meter(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        out = self._proc.stdout.read()
        self._proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        if self._proc.returncode != 0:
            raise self._failure("resque run --attach")
        try:
            self.actual = json.loads(out)
        except ValueError as e:
            raise Error(f"resque run --attach: its output is not JSON: {e}", 0, out.decode()) from e
        return self.actual

    def _cleanup(self) -> None:
        if self._proc is not None:
            if self._reader is not None:
                self._reader.join(5)
            for f in (self._proc.stdout, self._proc.stderr):
                if f is not None:
                    f.close()
        if self._own_events and self._events:
            try:
                os.unlink(self._events)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(failed=exc_type is not None)


def track(plan: str | None = None, name: str | None = None,
          repo: str | os.PathLike[str] = ".", attach_timeout: float = 30.0,
          **run_options: Any) -> Tracker:
    """Track a training run, tied to a plan::

        with resque.track(plan="3f2a", name="v2-train") as t:
            for epoch in range(epochs):
                ...
                t.epoch(accuracy=acc, grad_norm=g)
            t.target_reached()
        print(t.actual)        # the recorded actual (None under resque run)

    ``plan`` is the plan entry this run carries out, ``name`` the actual's
    name, ``repo`` the repository directory. Under ``resque run`` only its
    ``RESQUE_EVENTS`` file is written (plan and name are that command's).
    Otherwise ``resque run --attach`` meters this process from
    :meth:`Tracker.start` to :meth:`Tracker.stop`; an exception leaving
    the ``with`` block still records the actual, as failed, and propagates.
    Other keywords are ``resque run`` options for the attached meter
    (``meter="estimate"``, ``region="FR"``, ``hardware=...``); they are
    ignored under ``resque run``.
    """
    return Tracker(plan=plan, name=name, repo=repo, attach_timeout=attach_timeout, **run_options)
