"""``resque.Repo``: the CLI's commands on one repository, as parsed JSON."""
from __future__ import annotations

import os
from typing import Any

from ._cli import options, run, run_json

__all__ = ["Repo"]

PathLike = str | os.PathLike[str]


class Repo:
    """A resque repository: the directory holding (or to hold) ``.resque``.

    Each method runs one CLI command with ``--json`` in that directory (so
    relative paths given to it are relative to the repository's directory)
    and returns what the command printed, parsed. Keyword options map to
    the command's flags: ``train_size=500`` is ``--train-size 500``,
    ``from_="v1"`` is ``--from v1``, ``target_missed=True`` is
    ``--target-missed``, a list repeats the flag, a dict gives
    ``--flag KEY=VALUE`` pairs (see each command's ``--help``).

    A failure raises :class:`resque.Error` with the CLI's message and exit
    status; exit status 3 (an integrity violation) raises
    :class:`resque.IntegrityError`.
    """

    def __init__(self, path: PathLike = ".") -> None:
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"Repo({self.path!r})"

    def _json(self, *args: str) -> Any:
        return run_json(list(args), cwd=self.path)

    def init(self, key: str | None = None) -> dict[str, Any]:
        """``resque init``: create the repository (and its directory).

        Returns the signed genesis entry as ``resque show --json`` prints it.
        """
        os.makedirs(self.path, exist_ok=True)
        run(["init", *options({"key": key}), "."], cwd=self.path)
        genesis = self.log(type="init")
        return self.show(genesis[-1]["id"])

    def dataset_add(self, path: PathLike, **opts: Any) -> dict[str, Any]:
        """``resque dataset add [opts] PATH``: record a dataset directory.

        Options: ``name``, ``embeddings``, ``labels``, ``tensor``.
        Returns the new ``dataset`` entry.
        """
        return self._json("dataset", "add", *options(opts), "--json", os.fspath(path))

    def commit(self, weights: PathLike, name: str, **opts: Any) -> dict[str, Any]:
        """``resque commit --weights WEIGHTS --name NAME [opts]``: record a version.

        Options: ``parent``, ``data`` (a list), ``embeddings``, ``labels``,
        ``tensor``, ``summary``, ``cost``, ``actual``, ``family``, ``meta``
        (a dict), ``message``. Returns the new ``version`` entry.
        """
        return self._json("commit", "--weights", os.fspath(weights), "--name", name,
                          *options(opts), "--json")

    def plan(self, **opts: Any) -> dict[str, Any]:
        """``resque plan [opts]``: forecast an update (``from_="v1"`` for --from).

        Other options: ``embeddings``, ``labels``, ``summary``, ``dataset``
        (lists for several candidates), ``tensor``, ``train_size``, ``kind``,
        ``family``, ``shift_family``, ``region``, ``pue``, ``intensity``,
        ``hardware``, ``when``, ``dry_run``, ``backtest``, ``lineage``.
        Returns ``{"plans": [...], ...}`` as ``resque plan --json`` prints it.
        """
        return self._json("plan", *options(opts), "--json")

    def record(self, plan: str | None = None, **opts: Any) -> dict[str, Any]:
        """``resque record --plan PLAN [opts]``: record an update's actual cost.

        Options: ``actual``, ``epochs``, ``energy_kwh``, ``duration_s``,
        ``param_change``, ``grad_norm``, ``epoch_energy_kwh`` (a list is
        joined with commas), ``shift_family``, ``hardware``, ``train_size``,
        ``method``, ``name``, ``target_missed``, ``target_reached``.
        Returns the new ``actual`` entry.
        """
        per_epoch = opts.get("epoch_energy_kwh")
        if isinstance(per_epoch, (list, tuple)):
            opts["epoch_energy_kwh"] = ",".join(str(x) for x in per_epoch)
        return self._json("record", *options({"plan": plan, **opts}), "--json")

    def log(self, type: str | None = None, max_count: int | None = None,
            graph: bool = False) -> list[dict[str, Any]]:
        """``resque log``: the entries, newest first (``type`` filters them)."""
        return self._json("log", *options({"type": type, "max_count": max_count, "graph": graph}),
                          "--json")

    def show(self, ref: str) -> dict[str, Any]:
        """``resque show REF``: one entry (a version reference, name or id prefix)."""
        return self._json("show", "--json", ref)

    def diff(self, ref1: str, ref2: str, *weights: PathLike, files: bool = False,
             params: bool = False) -> dict[str, Any]:
        """``resque diff REF1 REF2 [W1 W2]``: compare two versions.

        ``params=True`` adds the weights' change (from W1 and W2 when given).
        """
        return self._json("diff", *options({"files": files, "params": params}), "--json",
                          ref1, ref2, *(os.fspath(w) for w in weights))

    def verify(self, **opts: Any) -> dict[str, Any]:
        """``resque verify``: check signatures, chain and index.

        Options: ``checkpoint``, ``key`` (a list), ``keys``, ``forget``.
        Returns the report when the ledger is clean; a violation raises
        :class:`resque.IntegrityError` whose ``result`` is the report.
        """
        return self._json("verify", *options(opts), "--json")

    def report(self, **opts: Any) -> dict[str, Any]:
        """``resque report --format json``: the lifetime report.

        Options: ``since``, ``until``, ``lineage``. When the ledger fails
        verification, :class:`resque.IntegrityError` is raised; its
        ``result`` is the report when one was written (marked
        ``"verified": false``), else None (a ledger rolled back).
        """
        return self._json("report", *options(opts), "--format", "json")
