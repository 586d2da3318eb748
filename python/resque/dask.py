"""``resque.dask``: the RESQUE measures of sharded data on a Dask cluster.

Every number is computed by the resque CLI: the workers run its map steps
on their shards (``resque summarize``, ``resque fingerprint``, ``resque
shard stats|step``) and reduce the small partial files as a tree
(``summarize --merge``, ``shard merge``); the driver runs the reduce steps
(``shard init|update|result``, ``measure dist``) on files of O(K·D) bytes,
whatever the number of rows. Python only moves files and bytes around.

- :func:`summarize`: the representation summary (.rqs) of all the shards.
- :func:`dist`: ``resque measure dist --json`` of two sides.
- :func:`task`: RESQUE_task of all the shards (k-means seeded with the
  class centroids; k-means++ is not offered on shards): what ``resque
  measure task --json`` prints of their concatenation, except that the
  float64 sums are added in another order (per shard, then merged). On
  long runs over overlapping classes that can change the iteration count
  and the value in the 6th digit, as ``resque measure task --threads 1``
  and ``--threads 2`` can differ from each other (docs/METHOD.md,
  "Shards"; docs/SCALE.md).

Shards are given as two lists of files of the same length (embeddings as
.npy or safetensors, labels), or as two Dask arrays (2-D float, 1-D int)
whose row chunks are the shards: the labels are cut as the embeddings' row
chunks, an empty chunk is no shard, and unknown chunk sizes (``X[mask]``)
are counted on the cluster first (the arrays are persisted there, so they
are computed once). Each shard's map tasks are pinned to the worker that
holds its chunk (they run elsewhere only if that worker is gone or Dask
moves them), which writes the chunk to a temporary .npy in its Dask
directory at most once per call, deleted at the end. Any
``distributed.Client`` will do; without one a ``LocalCluster`` of two
single-threaded workers is started and closed. The workers run the CLI
with ``OPENBLAS_NUM_THREADS=1``; it is ``$RESQUE_BIN`` there when set,
else ``resque`` on their PATH. A failing command raises
:class:`resque.Error` with the CLI's message, naming the file, or for a
chunk the chunk and its rows in the array (``resque: embeddings chunk 2
(rows 41-63): non-finite value (nan) at row 50, column 3``: rows counted
from the array's first); an error of a reduce step on the driver names the
shard with its file or chunk (``resque: the merged final partials, entry
2 of 3: shard 2 of 3 (e1.npy, 20 rows) by its identity, but its
embeddings file changed since `resque shard stats` ...``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from typing import Any, Iterator, Sequence

from ._cli import INTEGRITY_STATUS, Error, IntegrityError, binary

__all__ = ["summarize", "dist", "task"]

#: How many partials one merge task adds up (the tree's fan-in).
FAN_IN = 8

PathLike = str | os.PathLike[str]


# ---- running the CLI (on workers and on the driver) ----

def _run(args: Sequence[str], cwd: str) -> subprocess.CompletedProcess[str]:
    """``resque ARGS`` in ``cwd`` with one OpenBLAS thread; Error on failure."""
    argv = [binary(), *args]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              check=False)
    except OSError as e:
        raise Error(f"resque: cannot run {argv[0]}: {e.strerror}", 127) from e
    if proc.returncode != 0:
        message = proc.stderr.strip() or f"resque {' '.join(args[:2])} failed"
        if proc.returncode < 0:
            message += f" (killed by signal {-proc.returncode})"
        cls = IntegrityError if proc.returncode == INTEGRITY_STATUS else Error
        raise cls(message, proc.returncode, proc.stdout)
    return proc


def _run_json(args: Sequence[str], cwd: str) -> Any:
    proc = _run(args, cwd)
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        raise Error(f"resque {' '.join(args[:2])}: its output is not JSON: {e}", 0,
                    proc.stdout) from e


@contextlib.contextmanager
def _scratch() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="resque-dask-", dir=_local_dir())
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _fingerprint_bytes(data: bytes) -> str:
    """What rq_fingerprint_bytes prints: b2: and BLAKE2b-256 in hex."""
    return "b2:" + hashlib.blake2b(data, digest_size=32).hexdigest()


# ---- shards: files, or chunks written to a worker's temporary files ----

# On each worker: (run id, chunk index) -> (directory, embeddings, labels);
# the last _ENDED_KEPT runs that have ended (their chunk files removed, and
# those a task still running writes removed when it ends: a bounded
# memory, in order of ending); how many chunk files were written in all
# (_chunk_writes); the lock of them.
_CHUNK_FILES: dict[tuple[str, int], tuple[str, str, str]] = {}
_ENDED_RUNS: dict[str, None] = {}
_ENDED_KEPT = 64
_CHUNK_WRITES = [0]
_CHUNK_LOCK = threading.Lock()

#: A Dask array's chunk as a shard: its index among the embeddings' row
#: chunks and its first and last row (0-based, inclusive) in the array.
Chunk = tuple[int, int, int]


def _local_dir() -> str | None:
    """The Dask worker's local directory, when run by one: the chunk files
    and scratch directories go there, so that Dask removes them with the
    worker's directory even when the worker is killed (the next worker
    started in that workspace purges it); else None (``TMPDIR``)."""
    try:
        from distributed import get_worker
        return get_worker().local_directory
    except (ImportError, ValueError, AttributeError):
        return None


def _chunk_files(emb: Any, lab: Any, chunk: Chunk, run_id: str) -> tuple[str, str]:
    """The chunk's two .npy files on this worker (written on first use in
    this run)."""
    def written() -> tuple[str, str, str] | None:
        got = _CHUNK_FILES.get((run_id, chunk[0]))
        return got if got and os.path.exists(got[1]) and os.path.exists(got[2]) else None

    with _CHUNK_LOCK:
        got = written()
    if got:
        return got[1], got[2]
    import numpy as np
    d = tempfile.mkdtemp(prefix="resque-dask-chunk-", dir=_local_dir())
    e, l = os.path.join(d, "emb.npy"), os.path.join(d, "labels.npy")
    np.save(e, np.ascontiguousarray(emb))
    np.save(l, np.ascontiguousarray(lab))
    with _CHUNK_LOCK:  # another thread of this worker may have written them first
        _CHUNK_WRITES[0] += 1
        got = written()
        if not got:
            got = _CHUNK_FILES[(run_id, chunk[0])] = (d, e, l)
    if got[0] != d:
        shutil.rmtree(d, ignore_errors=True)
    return got[1], got[2]


def _chunk_error(err: Error, files: dict[str, str], first: int) -> Error:
    """``err`` with the chunk's temporary files named as the chunk, and
    the rows it names counted from the array's first row."""
    message = err.message
    for path, name in files.items():
        message = message.replace(path, name)
    message = re.sub(r"(\bat row |\(row )(\d+)",
                     lambda m: f"{m.group(1)}{first + int(m.group(2))}", message)
    return type(err)(message, err.status, err.output)


@contextlib.contextmanager
def _shard_files(emb: Any, lab: Any, chunk: Chunk | None,
                 run_id: str) -> Iterator[tuple[str, str]]:
    """The shard's two files: the paths given, or the chunk's .npy files on
    this worker; a failing command then names the chunk, not the file
    ("embeddings chunk 3 (rows 120-159)")."""
    if chunk is None:
        yield os.fspath(emb), os.fspath(lab)
        return
    e, l = _chunk_files(emb, lab, chunk, run_id)
    where = f"chunk {chunk[0]} (rows {chunk[1]}-{chunk[2]})"
    try:
        yield e, l
    except Error as err:
        raise _chunk_error(err, {e: f"embeddings {where}", l: f"labels {where}"},
                           chunk[1]) from None
    finally:
        with _CHUNK_LOCK:  # the run ended while this task ran: its files go now
            ended = _CHUNK_FILES.pop((run_id, chunk[0]), None) if run_id in _ENDED_RUNS else None
        if ended:
            shutil.rmtree(ended[0], ignore_errors=True)


def _chunk_writes() -> int:
    """How many times this worker process wrote a chunk's files (client.run;
    the tests count them)."""
    with _CHUNK_LOCK:
        return _CHUNK_WRITES[0]


def _forget_chunks(run_id: str) -> int:
    """Delete this worker's chunk files of run ``run_id`` (client.run), and
    those its tasks still running write."""
    with _CHUNK_LOCK:
        _ENDED_RUNS[run_id] = None
        while len(_ENDED_RUNS) > _ENDED_KEPT:
            del _ENDED_RUNS[next(iter(_ENDED_RUNS))]
        dirs = [_CHUNK_FILES.pop(k)[0] for k in [k for k in _CHUNK_FILES if k[0] == run_id]]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return len(dirs)


def _tensor_opt(tensor: str | None) -> list[str]:
    return ["--tensor", tensor] if tensor else []


def _known_rows(client: Any, x: Any) -> Any:
    """``x`` with known row chunk sizes: as given, or (after a boolean
    mask, ``X[m]``) persisted on the cluster and its chunks' rows counted
    there, so that it is computed once (dask's ``compute_chunk_sizes``
    would compute it twice)."""
    if not any(math.isnan(n) for n in x.chunks[0]):
        return x
    import dask
    import dask.array as da
    x = client.persist(x)
    blocks = x.to_delayed()[(slice(None),) + (0,) * (x.ndim - 1)]
    rows = client.compute([dask.delayed(len)(b) for b in blocks], sync=True)
    return da.Array(x.dask, x.name, (tuple(rows),) + x.chunks[1:], dtype=x.dtype)


def _check_shards(embeddings: Any, labels: Any, tensor: str | None) -> tuple[Any, Any]:
    """Refuse bad shard arguments before anything runs; the two Dask
    arrays, or the two lists of paths."""
    if _is_dask_array(embeddings) or _is_dask_array(labels):
        if not (_is_dask_array(embeddings) and _is_dask_array(labels)):
            raise TypeError("give both embeddings and labels as Dask arrays, or both as lists")
        if embeddings.ndim != 2 or labels.ndim != 1:
            raise ValueError(f"embeddings must be 2-D and labels 1-D, not {embeddings.ndim}-D "
                             f"and {labels.ndim}-D")
        if not (math.isnan(embeddings.shape[0]) or math.isnan(labels.shape[0])):
            _same_rows(embeddings.shape[0], labels.shape[0])
        if tensor is not None:
            raise ValueError(f"tensor={tensor!r} names a tensor of safetensors shard files; "
                             "Dask arrays have none: leave tensor unset")
        return embeddings, labels
    if isinstance(embeddings, (str, os.PathLike)) or isinstance(labels, (str, os.PathLike)):
        raise TypeError("embeddings and labels are lists of shard files (or Dask arrays)")
    embeddings, labels = [os.fspath(p) for p in embeddings], [os.fspath(p) for p in labels]
    if len(embeddings) != len(labels):
        raise ValueError(f"{len(embeddings)} embeddings files but {len(labels)} labels files: "
                         "give one labels file per shard")
    if not embeddings:
        raise ValueError("no shards: give at least one embeddings file and its labels")
    return embeddings, labels


class _Shards:
    """The shards of one call: per shard, the two task arguments and, for
    a Dask array's chunk, its index and rows (None for files); its name
    in messages (the embeddings path given, or the chunk and its rows);
    the worker a chunk's tasks are pinned to (None for files)."""

    def __init__(self, client: Any, embeddings: Any, labels: Any) -> None:
        self.run_id = uuid.uuid4().hex
        self.client = client
        self.futures: list[Any] = []
        embeddings, labels = _check_shards(embeddings, labels, None)
        if _is_dask_array(embeddings):
            self.args = self._from_arrays(embeddings, labels)
        else:
            self.args = self._from_files(embeddings, labels)

    def _from_files(self, embeddings: Any, labels: Any) -> list[tuple[Any, Any, Chunk | None]]:
        emb, lab = embeddings, labels
        self.names = emb
        self.where: list[str | None] = [None] * len(emb)
        return [(os.path.abspath(e), os.path.abspath(l), None) for e, l in zip(emb, lab)]

    def _from_arrays(self, emb: Any, lab: Any) -> list[tuple[Any, Any, Chunk | None]]:
        # the shards are the embeddings' row chunks, the labels cut the same way
        emb = _known_rows(self.client, emb.rechunk({1: -1}))
        lab = _known_rows(self.client, lab)
        _same_rows(emb.shape[0], lab.shape[0])
        lab = lab.rechunk((emb.chunks[0],))
        starts = [sum(emb.chunks[0][:i]) for i in range(len(emb.chunks[0]))]
        chunks = [(i, s, s + n - 1) for i, (s, n) in enumerate(zip(starts, emb.chunks[0]))
                  if n > 0]  # an empty chunk is no shard
        if not chunks:
            raise ValueError("no shards: the arrays have no rows")
        e_all, l_all = emb.to_delayed().ravel(), lab.to_delayed().ravel()
        self.futures = self.client.compute([e_all[c[0]] for c in chunks] +
                                           [l_all[c[0]] for c in chunks])
        n = len(chunks)
        self.names = [f"embeddings chunk {c[0]}, rows {c[1]}-{c[2]}" for c in chunks]
        self.where = self._holders(self.futures[:n])
        return [(self.futures[i], self.futures[n + i], chunks[i]) for i in range(n)]

    def _holders(self, futures: list[Any]) -> list[str | None]:
        """The worker that holds each chunk, once computed: its map tasks
        are pinned there (loosely: they run elsewhere if it is gone), so
        the chunk is not copied to, and written on, another worker."""
        from distributed import wait
        wait(futures)
        who = self.client.who_has(futures)
        # keys as given, or (distributed < 2023.4) as str(key)
        return [min(who.get(f.key) or who.get(str(f.key)) or (), default=None) for f in futures]

    def submit(self, fn: Any, i: int, *args: Any) -> Any:
        """``fn(emb, lab, chunk, run_id, *args)`` of shard ``i`` on the cluster."""
        e, l, k = self.args[i]
        pin = {"workers": [self.where[i]], "allow_other_workers": True} if self.where[i] else {}
        return self.client.submit(fn, e, l, k, self.run_id, *args, pure=False, **pin)

    def explain(self, err: Error, files: dict[str, str]) -> Error:
        """An error of a reduce step on the driver with its temporary
        ``files`` named as what they hold, and each "shard N of M" (1-based,
        in shard order, as ``shard init`` got them) with its file or chunk;
        a number not in that form (a count, "2 times") is left alone."""
        message = err.message
        for path, name in files.items():
            message = message.replace(path, name)

        def name(m: re.Match[str]) -> str:
            i = int(m.group(1))
            if not 1 <= i <= len(self.names):
                return m.group(0)
            rows = f", {m.group(3)}" if m.group(3) else ""
            return f"shard {i}{m.group(2)} ({self.names[i - 1]}{rows})"
        message = re.sub(r"\bshard (\d+)( of \d+)(?: \((\d+ rows?)\))?", name, message)
        return type(err)(message, err.status, err.output)

    def close(self) -> None:
        if any(a[2] is not None for a in self.args):
            with contextlib.suppress(Exception):
                self.client.run(_forget_chunks, self.run_id)
        for f in self.futures:
            f.release()


def _same_rows(n_emb: int, n_lab: int) -> None:
    if n_emb != n_lab:
        raise ValueError(f"{n_emb} rows of embeddings but {n_lab} labels")


def _is_dask_array(x: Any) -> bool:
    return type(x).__module__.startswith("dask.array")


@contextlib.contextmanager
def _client(client: Any) -> Iterator[Any]:
    """The client given, or a 2-worker LocalCluster's, closed after."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def _tree(client: Any, parts: list[Any], merge: Any, *args: Any) -> Any:
    """Reduce the futures ``parts`` as a tree of ``merge`` tasks on the
    workers (FAN_IN at a time, in shard order); the root's future."""
    while len(parts) > 1:
        parts = [g[0] if len(g) == 1 else client.submit(merge, *args, *g, pure=False)
                 for g in (parts[i:i + FAN_IN] for i in range(0, len(parts), FAN_IN))]
    return parts[0]


# ---- summaries ----

def _summary_map(emb: Any, lab: Any, chunk: Chunk | None, run_id: str, tensor: str | None,
                 moments: int) -> dict[str, Any]:
    """On a worker: one shard's summary bytes, rows and fingerprints."""
    with _shard_files(emb, lab, chunk, run_id) as (e, l), _scratch() as d:
        out = os.path.join(d, "part.rqs")
        s = _run_json(["summarize", e, "-l", l, "-o", out, "--moments", str(moments),
                       *_tensor_opt(tensor), "--json"], d)
        efp = _run_json(["fingerprint", "--json", e], d)["fingerprint"]
        lfp = _run_json(["fingerprint", "--json", l], d)["fingerprint"]
        return {"part": _read(out), "rows": s["rows"], "embeddings": efp, "labels": lfp}


def _summary_merge(*parts: Any) -> bytes:
    """On a worker: ``summarize --merge`` of summaries (bytes or map results)."""
    with _scratch() as d:
        paths = [_write(os.path.join(d, f"{i}.rqs"), _payload(p)) for i, p in enumerate(parts)]
        out = os.path.join(d, "merged.rqs")
        _run(["summarize", "--merge", "-o", out, *paths], d)
        return _read(out)


def _payload(p: Any) -> bytes:
    return p["part"] if isinstance(p, dict) else p


def _shard_info(p: dict[str, Any]) -> dict[str, Any]:
    return {"embeddings": p["embeddings"], "labels": p["labels"], "rows": p["rows"]}


def _shards_object(info: list[dict[str, Any]]) -> dict[str, Any]:
    lines = "".join(f"{s['embeddings']} {s['labels']} {s['rows']}\n" for s in info)
    return {"count": len(info), "rows": sum(s["rows"] for s in info),
            "fingerprint": _fingerprint_bytes(lines.encode())}


def _summarize(c: Any, embeddings: Any, labels: Any, out: PathLike, tensor: str | None,
               moments: int) -> dict[str, Any]:
    shards = _Shards(c, embeddings, labels)
    try:
        maps = [shards.submit(_summary_map, i, tensor, moments) for i in range(len(shards.args))]
        root = _tree(c, maps, _summary_merge)
        info = c.gather([c.submit(_shard_info, m, pure=False) for m in maps])
        merged = c.submit(_payload, root, pure=False).result()
    finally:
        shards.close()
    out = os.fspath(out)
    with _scratch() as d:
        tmp = _write(os.path.join(d, "all.rqs"), merged)
        # the CLI writes OUT atomically and describes it
        result = _run_json(["summarize", "--merge", "-o", os.path.abspath(out), tmp, "--json"],
                           os.getcwd())
    result["path"] = out
    result["shards"] = _shards_object(info)
    return result


def summarize(embeddings: Any, labels: Any, *, out: PathLike, client: Any = None,
              tensor: str | None = None, moments: int = 1) -> dict[str, Any]:
    """The summary of all the shards, written to ``out`` (atomically).

    Each shard is summarised on a worker (``resque summarize``) and the
    summaries merged as a tree on the workers (``summarize --merge``), which
    equals the summary of the concatenated data. Returns what ``resque
    summarize --json`` prints of ``out`` plus ``"shards": {"count", "rows",
    "fingerprint"}``, the fingerprint being BLAKE2b-256 of the lines
    ``EMBFP LABFP ROWS`` (``resque fingerprint`` of each shard's files, in
    shard order; of the temporary .npy files for Dask arrays).
    """
    if isinstance(moments, bool) or not isinstance(moments, numbers.Integral) \
            or moments not in (1, 2):
        raise ValueError(f"moments must be 1 or 2, not {moments!r}")
    embeddings, labels = _check_shards(embeddings, labels, tensor)
    with _client(client) as c:
        return _summarize(c, embeddings, labels, out, tensor, moments)


def dist(old: Any, new: Any, *, client: Any = None, tensor: str | None = None) -> dict[str, Any]:
    """``resque measure dist --json`` between two sides.

    Each side is a summary (.rqs path) or a pair ``(embeddings, labels)`` of
    shards as for :func:`summarize`, summarised on the cluster first.
    """
    sides = [old, new]
    need = [not isinstance(s, (str, os.PathLike)) for s in sides]
    for s, n in zip(sides, need):
        if n and not (isinstance(s, (tuple, list)) and len(s) == 2):
            raise TypeError("each side is a summary path or a pair (embeddings, labels)")
    sides = [_check_shards(s[0], s[1], tensor) if n else s for s, n in zip(sides, need)]
    with _scratch() as d:
        paths = [os.path.abspath(os.fspath(s)) if not n else os.path.join(d, f"{i}.rqs")
                 for i, (s, n) in enumerate(zip(sides, need))]
        if any(need):
            with _client(client) as c:
                for s, n, p in zip(sides, need, paths):
                    if n:
                        _summarize(c, s[0], s[1], p, tensor, 1)
        return _run_json(["measure", "dist", "--old", paths[0], "--new", paths[1], "--json"],
                         os.getcwd())


# ---- RESQUE_task: Lloyd's k-means over shards ----

def _stats_map(emb: Any, lab: Any, chunk: Chunk | None, run_id: str,
               tensor: str | None) -> bytes:
    """On a worker: ``resque shard stats`` of one shard."""
    with _shard_files(emb, lab, chunk, run_id) as (e, l), _scratch() as d:
        out = os.path.join(d, "stats.rqp")
        _run(["shard", "stats", "-e", e, "-l", l, *_tensor_opt(tensor), "-o", out], d)
        return _read(out)


def _step_map(emb: Any, lab: Any, chunk: Chunk | None, run_id: str, tensor: str | None,
              state: bytes, final: bool) -> bytes:
    """On a worker: one Lloyd step (or with ``final`` the contingency
    table) of one shard against the state."""
    with _shard_files(emb, lab, chunk, run_id) as (e, l), _scratch() as d:
        st = _write(os.path.join(d, "state.rqp"), state)
        out = os.path.join(d, "step.rqp")
        _run(["shard", "step", "--state", st, "-e", e, "-l", l, *_tensor_opt(tensor), "-o", out,
              "--threads", "1", *(["--final"] if final else [])], d)
        return _read(out)


def _partial_merge(*parts: bytes) -> bytes:
    """On a worker: ``resque shard merge`` of partials of one kind."""
    with _scratch() as d:
        paths = [_write(os.path.join(d, f"{i}.rqp"), p) for i, p in enumerate(parts)]
        out = os.path.join(d, "merged.rqp")
        _run(["shard", "merge", "-o", out, *paths], d)
        return _read(out)


def _map_reduce(c: Any, shards: _Shards, fn: Any, *args: Any) -> bytes:
    """fn on every shard, merged as a tree on the workers; the root's bytes."""
    parts = [shards.submit(fn, i, *args) for i in range(len(shards.args))]
    return _tree(c, parts, _partial_merge).result()


def _task(c: Any, embeddings: Any, labels: Any, tensor: str | None,
          max_iter: int | None) -> dict[str, Any]:
    shards = _Shards(c, embeddings, labels)
    try:
        with _scratch() as d:
            files = {os.path.join(d, f): what for f, what in (
                ("stats.rqp", "the merged shard stats"), ("state.rqp", "the state"),
                ("step.rqp", "the merged step partials"),
                ("final.rqp", "the merged final partials"))}

            def driver(args: list[str]) -> Any:
                try:
                    return _run_json(args, d) if "--json" in args else _run(args, d)
                except Error as err:
                    raise shards.explain(err, files) from None
            stats = _write(os.path.join(d, "stats.rqp"),
                           _map_reduce(c, shards, _stats_map, tensor))
            state = os.path.join(d, "state.rqp")
            driver(["shard", "init", "-o", state, stats,
                    *(["--max-iter", str(max_iter)] if max_iter is not None else [])])
            done = False
            while not done:
                sf = c.scatter(_read(state), broadcast=True, hash=False)
                step = _write(os.path.join(d, "step.rqp"),
                              _map_reduce(c, shards, _step_map, tensor, sf, False))
                sf.release()
                done = driver(["shard", "update", "--state", state, step, "--json"])["done"]
            sf = c.scatter(_read(state), broadcast=True, hash=False)
            final = _write(os.path.join(d, "final.rqp"),
                           _map_reduce(c, shards, _step_map, tensor, sf, True))
            sf.release()
            return driver(["shard", "result", "--state", state, final, "--json"])
    finally:
        shards.close()


def task(embeddings: Any, labels: Any, *, client: Any = None, tensor: str | None = None,
         max_iter: int | None = None, out: PathLike | None = None) -> dict[str, Any]:
    """RESQUE_task of all the shards, computed on the cluster.

    What ``resque measure task --json`` prints of the shards' concatenation,
    except that the float64 sums are added in another order (per shard,
    then merged as a tree): on long runs over overlapping classes that can
    change the iteration count and the value in the 6th digit, as ``resque
    measure task --threads 1`` and ``--threads 2`` can differ from each
    other (docs/METHOD.md, "Shards").

    The workers run ``resque shard stats`` and each Lloyd step (``shard
    step``, the state's bytes broadcast to them) on their shards and merge
    the partials as a tree (``shard merge``); the driver runs ``shard
    init``, ``shard update`` after each step until the state is done, and
    ``shard result`` of the final contingency tables. Returns that JSON
    (``kind``, ``value``, ``ari``, ``iterations``, ``k``, ``n``, ``init``,
    ``shards``); ``out`` also writes it there as JSON (atomically), for
    ``resque plan --task-from``.
    """
    if max_iter is not None and (isinstance(max_iter, bool) or
                                 not isinstance(max_iter, numbers.Integral) or max_iter < 1):
        raise ValueError(f"max_iter must be a positive integer, not {max_iter!r}")
    embeddings, labels = _check_shards(embeddings, labels, tensor)
    with _client(client) as c:
        result = _task(c, embeddings, labels, tensor, max_iter)
    if out is not None:
        out = os.fspath(out)
        tmp = f"{out}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w") as f:
                json.dump(result, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return result
