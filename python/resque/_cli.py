"""Finding and running the resque command-line tool."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any, Mapping, Sequence

__all__ = ["Error", "IntegrityError", "binary", "run", "run_json", "options"]

#: The CLI's exit status for an integrity violation (docs/FORMATS.md).
INTEGRITY_STATUS = 3


class Error(Exception):
    """A resque command failed.

    ``message`` is the CLI's message (its standard error, without trailing
    whitespace), ``status`` its exit status (127 when the CLI could not be
    found or started), ``output`` what it printed on standard output.
    """

    def __init__(self, message: str, status: int, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.output = output

    def __str__(self) -> str:
        return f"{self.message} (exit status {self.status})"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled whole (resque.dask raises it on a worker, the driver re-raises it)
        return (type(self), (self.message, self.status, self.output))


class IntegrityError(Error):
    """A resque command found an integrity violation (exit status 3).

    ``result`` holds the command's parsed JSON when it printed some (for
    ``verify`` and ``report``, the report of what failed), else None.
    """

    def __init__(self, message: str, status: int = INTEGRITY_STATUS, output: str = "") -> None:
        super().__init__(message, status, output)
        try:
            self.result: Any = json.loads(output) if output.strip() else None
        except ValueError:
            self.result = None


def binary() -> str:
    """The resque executable: ``$RESQUE_BIN`` when set, else ``resque`` on PATH.

    Raises :class:`Error` (status 127) when neither is found.
    """
    env = os.environ.get("RESQUE_BIN")
    if env:
        return env
    found = shutil.which("resque")
    if not found:
        raise Error("resque: the resque command was not found on PATH (set RESQUE_BIN to its path)", 127)
    return found


def options(opts: Mapping[str, Any]) -> list[str]:
    """Command-line options from keyword arguments.

    ``foo_bar=V`` becomes ``--foo-bar V`` (a trailing ``_`` is dropped, so
    ``from_`` is ``--from``); True gives the bare flag, False and None
    nothing; a list or tuple repeats the option; a dict gives one
    ``--opt KEY=VALUE`` per item (``meta={"lr": 0.1}``).
    """
    argv: list[str] = []
    for key, value in opts.items():
        if value is None or value is False:
            continue
        flag = "--" + key.rstrip("_").replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                argv += [flag, f"{k}={v}"]
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def run(args: Sequence[str], cwd: str | os.PathLike[str] | None = None,
        ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run ``resque ARGS`` in ``cwd``; its output is captured as text.

    Raises :class:`IntegrityError` on exit status 3, :class:`Error` on any
    other status not in ``ok``.
    """
    argv = [binary(), *args]
    if cwd is not None and not os.path.isdir(cwd):
        raise Error(f"resque: {os.fspath(cwd)}: no such directory (the repository's)", 1)
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise Error(f"resque: cannot run {argv[0]}: {e.strerror}", 127) from e
    if proc.returncode not in ok:
        message = proc.stderr.strip() or f"resque {' '.join(args[:2])} failed"
        if proc.returncode == INTEGRITY_STATUS:
            raise IntegrityError(message, proc.returncode, proc.stdout)
        raise Error(message, proc.returncode, proc.stdout)
    return proc


def run_json(args: Sequence[str], cwd: str | os.PathLike[str] | None = None) -> Any:
    """Run ``resque ARGS`` (which must print JSON) and return it parsed."""
    proc = run(args, cwd)
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        raise Error(f"resque {' '.join(args[:2])}: its output is not JSON: {e}", proc.returncode,
                    proc.stdout) from e
