"""resque from Python: the companion of the ``resque`` command-line tool.

- :func:`track` meters a training run (under ``resque run``, or by
  starting ``resque run --attach`` on this process) and reports its epochs,
  metrics and whether it reached its target.
- :class:`Repo` runs the CLI's commands and returns their JSON.
- :mod:`resque.torch` writes embeddings (``.npy``) and weights
  (safetensors) from PyTorch with no other dependency.
- :mod:`resque.dask` computes the measures of sharded data on a Dask
  cluster, every number by the CLI on the workers.

The CLI is ``$RESQUE_BIN`` when set, else ``resque`` on PATH. Standard
library only; numpy and torch are needed by :mod:`resque.torch` alone,
dask and distributed by :mod:`resque.dask`.
"""
from __future__ import annotations

from ._cli import Error, IntegrityError, binary
from .repo import Repo
from .tracker import Tracker, track

__all__ = ["Error", "IntegrityError", "Repo", "Tracker", "binary", "track"]
__version__ = "0.1.0"
