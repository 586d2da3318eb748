"""``python3 -m resque ARGS``: run the resque CLI with ARGS.

The binary is ``$RESQUE_BIN``, else ``resque`` on PATH; its exit status is
passed through (the process is replaced by the CLI).
"""
from __future__ import annotations

import os
import sys

from ._cli import Error, binary


def main(argv: list[str]) -> int:
    """Replace this process by the CLI; return 127 when it cannot start."""
    try:
        exe = binary()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvp(exe, [exe, *argv])
    except Error as e:
        print(e.message, file=sys.stderr)
        return e.status
    except OSError as e:
        print(f"resque: cannot run {exe}: {e.strerror}", file=sys.stderr)
        return 127
    return 127  # not reached: execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
