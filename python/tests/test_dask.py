"""resque.dask on a LocalCluster of 2 workers (tests/t1120-dask.sh): the
measures of sharded data equal the CLI's on the concatenated data, from
shard files and from Dask arrays, and a worker killed in the middle of a
step is retried by Dask with the same result."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("dask")
pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import resque  # noqa: E402
import resque.dask as rd  # noqa: E402
from conftest import cli, cli_json  # noqa: E402

# uneven shards: one of a single row, one without class 2
SIZES = (40, 1, 23, 9, 31)
K, D = 4, 8


def _cluster(**env: str) -> Any:
    from distributed import LocalCluster
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                        dashboard_address=":0", silence_logs=50, **env)


@pytest.fixture(scope="module")
def client(resque_bin_module: str) -> Any:
    from distributed import Client
    with _cluster() as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def resque_bin_module() -> str:
    b = os.environ.get("RESQUE_BIN")
    if not b or not os.access(b, os.X_OK):
        pytest.skip("RESQUE_BIN is not set to the resque binary")
    return b


@pytest.fixture(scope="module")
def has_shard(resque_bin_module: str) -> None:
    p = subprocess.run([resque_bin_module, "shard", "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("`resque shard` is not in this build (issue 18 item 1): task() untested")


def _make(dirpath: Path, shift: float = 0.0, seed: int = 7) -> dict[str, Any]:
    """Shards of labelled rows around K class centres, and their concatenation."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(K, D))
    dirpath.mkdir(parents=True, exist_ok=True)
    emb, lab, xs, ys = [], [], [], []
    for i, n in enumerate(SIZES):
        y = rng.integers(0, K, size=n).astype(np.int64)
        if i == 3:
            y[y == 2] = 0  # a shard without class 2
        x = (centres[y] + rng.normal(scale=1.5, size=(n, D)) + shift).astype(np.float32)
        e, l = dirpath / f"emb{i}.npy", dirpath / f"lab{i}.npy"
        np.save(e, x)
        np.save(l, y)
        emb.append(str(e))
        lab.append(str(l))
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    np.save(dirpath / "all.npy", x)
    np.save(dirpath / "all.labels.npy", y)
    return {"emb": emb, "lab": lab, "x": x, "y": y, "all": str(dirpath / "all.npy"),
            "all_lab": str(dirpath / "all.labels.npy")}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("shards")
    return {"old": _make(base / "old"), "new": _make(base / "new", shift=0.4)}


def _arrays(d: dict[str, Any]) -> tuple[Any, Any]:
    """The same rows as Dask arrays whose row chunks are the shards."""
    return (da.from_array(d["x"], chunks=(SIZES, D)), da.from_array(d["y"], chunks=(SIZES,)))


def _whole_dist(bin_: str, data: dict[str, Any]) -> Any:
    o, n = data["old"], data["new"]
    return cli_json(bin_, "measure", "dist", "--old", f"{o['all']}:{o['all_lab']}",
                    "--new", f"{n['all']}:{n['all_lab']}", "--json")


def _same_dist(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["value"] == pytest.approx(want["value"], abs=1e-12)
    assert [c["label"] for c in got["classes"]] == [c["label"] for c in want["classes"]]
    for g, w in zip(got["classes"], want["classes"]):
        assert (g["n_old"], g["n_new"]) == (w["n_old"], w["n_new"])
        assert g["angle"] == pytest.approx(w["angle"], abs=1e-12)
    for k in ("shared", "old_only", "new_only", "zero_sum"):
        assert got[k] == want[k]


def _shards_fp(bin_: str, emb: list[str], lab: list[str]) -> str:
    lines = "".join(
        f"{cli_json(bin_, 'fingerprint', '--json', e)['fingerprint']} "
        f"{cli_json(bin_, 'fingerprint', '--json', l)['fingerprint']} {len(np.load(l))}\n"
        for e, l in zip(emb, lab))
    return rd._fingerprint_bytes(lines.encode())


def test_summarize_equals_the_whole(client: Any, data: dict[str, Any], tmp_path: Path,
                                    resque_bin_module: str) -> None:
    d = data["old"]
    out = tmp_path / "shards.rqs"
    got = rd.summarize(d["emb"], d["lab"], out=out, client=client)
    whole = cli_json(resque_bin_module, "summarize", d["all"], "-l", d["all_lab"],
                     "-o", str(tmp_path / "whole.rqs"), "--json")
    assert got["path"] == str(out) and out.exists()
    assert (got["rows"], got["classes"], got["dim"], got["moments"]) == (
        sum(SIZES), K, D, 1) == (whole["rows"], whole["classes"], whole["dim"], whole["moments"])
    assert got["shards"] == {"count": len(SIZES), "rows": sum(SIZES),
                             "fingerprint": _shards_fp(resque_bin_module, d["emb"], d["lab"])}
    assert got["fingerprint"] == cli_json(resque_bin_module, "fingerprint", "--json",
                                          str(out))["fingerprint"]
    # the merged summary measures as the whole one does
    a = cli_json(resque_bin_module, "measure", "dist", "--old", str(out), "--new",
                 f"{data['new']['all']}:{data['new']['all_lab']}", "--json")
    b = cli_json(resque_bin_module, "measure", "dist", "--old", str(tmp_path / "whole.rqs"),
                 "--new", f"{data['new']['all']}:{data['new']['all_lab']}", "--json")
    _same_dist(a, b)
    two = rd.summarize(d["emb"], d["lab"], out=tmp_path / "m2.rqs", client=client, moments=2)
    whole2 = cli_json(resque_bin_module, "summarize", d["all"], "-l", d["all_lab"], "--moments",
                      "2", "-o", str(tmp_path / "whole2.rqs"), "--json")
    assert (two["moments"], two["bytes"]) == (2, whole2["bytes"])
    with pytest.raises(ValueError, match="moments"):
        rd.summarize(d["emb"], d["lab"], out=tmp_path / "m3.rqs", client=client, moments=3)


def test_dist_of_shard_files_equals_measure_dist(client: Any, data: dict[str, Any],
                                                 resque_bin_module: str) -> None:
    o, n = data["old"], data["new"]
    got = rd.dist((o["emb"], o["lab"]), (n["emb"], n["lab"]), client=client)
    _same_dist(got, _whole_dist(resque_bin_module, data))
    assert got["kind"] == "dist" and 0 < got["value"] < 1


def test_dist_of_dask_arrays_and_a_summary(client: Any, data: dict[str, Any], tmp_path: Path,
                                           resque_bin_module: str) -> None:
    o, n = data["old"], data["new"]
    want = _whole_dist(resque_bin_module, data)
    _same_dist(rd.dist(_arrays(o), _arrays(n), client=client), want)
    rd.summarize(*_arrays(o), out=tmp_path / "old.rqs", client=client)
    _same_dist(rd.dist(tmp_path / "old.rqs", (n["emb"], n["lab"]), client=client), want)
    # the chunks' temporary files are gone
    left = client.run(lambda: sorted(rd._CHUNK_FILES))
    assert all(v == [] for v in left.values())
    # labels chunked otherwise, an empty chunk, embeddings split in columns
    x = da.from_array(o["x"], chunks=((30, 0, 34, 40), (3, D - 3)))
    y = da.from_array(o["y"], chunks=(50,))
    got = rd.summarize(x, y, out=tmp_path / "rechunked.rqs", client=client)
    assert got["shards"]["count"] == 3 and got["rows"] == sum(SIZES)
    _same_dist(rd.dist(tmp_path / "rechunked.rqs", (n["emb"], n["lab"]), client=client), want)


def test_bad_inputs(client: Any, data: dict[str, Any], tmp_path: Path) -> None:
    o = data["old"]
    with pytest.raises(resque.Error) as e:
        rd.summarize(o["emb"][:2] + [str(tmp_path / "missing.npy")], o["lab"][:3],
                     out=tmp_path / "x.rqs", client=client)
    assert "missing.npy" in e.value.message and e.value.status == 1
    assert not (tmp_path / "x.rqs").exists()
    with pytest.raises(ValueError, match="one labels file per shard"):
        rd.summarize(o["emb"], o["lab"][:2], out=tmp_path / "x.rqs", client=client)
    with pytest.raises(TypeError, match="lists of shard files"):
        rd.summarize(o["emb"][0], o["lab"][0], out=tmp_path / "x.rqs", client=client)
    with pytest.raises(TypeError, match="a summary path or a pair"):
        rd.dist((o["emb"],), tmp_path / "x.rqs", client=client)
    x, y = _arrays(o)
    with pytest.raises(ValueError, match="rows of embeddings"):
        rd.summarize(x, y[:-1], out=tmp_path / "x.rqs", client=client)
    assert not (tmp_path / "x.rqs").exists()


def _left(client: Any) -> list[str]:
    """The chunk files and scratch directories left on the workers, once
    every task still running (after an error) has ended."""
    while any(client.processing().values()):
        time.sleep(0.05)

    def left() -> list[str]:
        from distributed import get_worker
        return sorted(str(k) for k in rd._CHUNK_FILES) + [
            p for p in os.listdir(get_worker().local_directory) if p.startswith("resque-dask-")]
    return [p for v in client.run(left).values() for p in v]


def test_errors_of_a_chunk_name_the_chunk(client: Any, has_shard: None, data: dict[str, Any],
                                          tmp_path: Path) -> None:
    o = data["old"]
    x, y = _arrays(o)
    xn = o["x"].copy()
    xn[50, 3] = np.nan  # chunk 2 holds rows 41-63
    calls = {"summarize": lambda e, l: rd.summarize(e, l, out=tmp_path / "x.rqs", client=client),
             "task": lambda e, l: rd.task(e, l, client=client)}
    for name, call in calls.items():
        with pytest.raises(resque.Error) as e:
            call(da.from_array(xn, chunks=(SIZES, D)), y)
        assert e.value.message == ("resque: embeddings chunk 2 (rows 41-63): non-finite value "
                                   "(nan) at row 50, column 3"), name
        with pytest.raises(resque.Error) as e:
            call(x, y.astype(np.float64))
        assert e.value.status == 1 and "resque-dask" not in e.value.message, name
        assert e.value.message.endswith("labels must be integers, found float64"), name
        assert e.value.message.startswith("resque: labels chunk "), name
        assert not (tmp_path / "x.rqs").exists()
    assert _left(client) == []
    # a shard file keeps its name
    np.save(tmp_path / "float.npy", o["y"][:SIZES[0]].astype(np.float64))
    with pytest.raises(resque.Error) as e:
        rd.task(o["emb"][:1], [str(tmp_path / "float.npy")], client=client)
    assert e.value.message == (f"resque: {tmp_path / 'float.npy'}: labels must be integers, "
                               "found float64")


def test_empty_chunks_are_no_shards(client: Any, has_shard: None, data: dict[str, Any],
                                    tmp_path: Path, resque_bin_module: str) -> None:
    o = data["old"]
    chunks = (0, 40, 1, 0, 23, 9, 31, 0)
    x, y = da.from_array(o["x"], chunks=(chunks, D)), da.from_array(o["y"], chunks=(chunks,))
    _same_task(rd.task(x, y, client=client), _whole_task(resque_bin_module, o))
    s = rd.summarize(x, y, out=tmp_path / "s.rqs", client=client)
    assert (s["rows"], s["shards"]["count"]) == (sum(SIZES), len(SIZES))
    _same_dist(rd.dist((x, y), (data["new"]["emb"], data["new"]["lab"]), client=client),
               _whole_dist(resque_bin_module, data))
    # no rows at all, known or found after a mask
    none = [(x[:0], y[:0]), (x[y < 0], y[y < 0])]
    for e, l in none:
        for call in (lambda: rd.task(e, l, client=client),
                     lambda: rd.summarize(e, l, out=tmp_path / "x.rqs", client=client),
                     lambda: rd.dist((e, l), tmp_path / "s.rqs", client=client)):
            with pytest.raises(ValueError, match="^no shards: the arrays have no rows$"):
                call()
    assert not (tmp_path / "x.rqs").exists() and _left(client) == []


def test_unknown_chunk_sizes_after_a_mask(client: Any, has_shard: None, data: dict[str, Any],
                                          tmp_path: Path, resque_bin_module: str) -> None:
    o = data["new"]
    keep = np.ones(sum(SIZES), dtype=bool)
    keep[40] = False  # the single-row chunk becomes empty
    keep[::7] = False
    # the mask chunked otherwise: X[m] and y[m] are cut differently, sizes unknown
    m = da.from_array(keep, chunks=(25,))
    x, y = da.from_array(o["x"], chunks=(SIZES, D)), da.from_array(o["y"], chunks=(30,))
    xm, ym = x[m], y[m]
    assert np.isnan(xm.shape[0]) and xm.numblocks[0] != ym.numblocks[0]
    np.save(tmp_path / "kept.npy", o["x"][keep])
    np.save(tmp_path / "kept.labels.npy", o["y"][keep])
    want = _whole_task(resque_bin_module, {"all": str(tmp_path / "kept.npy"),
                                           "all_lab": str(tmp_path / "kept.labels.npy")})
    got = rd.task(xm, ym, client=client)
    for k in ("kind", "value", "ari", "iterations", "k", "n", "init"):
        assert got[k] == want[k], k
    assert got["shards"]["rows"] == keep.sum() == got["n"]
    s = rd.summarize(xm, ym, out=tmp_path / "kept.rqs", client=client)
    assert s["rows"] == keep.sum()
    # and the rows of both sides are counted before anything is measured
    with pytest.raises(ValueError, match=f"^{keep.sum()} rows of embeddings but "
                                         f"{sum(SIZES) - 1} labels$"):
        rd.task(xm, y[1:], client=client)
    with pytest.raises(ValueError, match=f"^{sum(SIZES)} rows of embeddings but "
                                         f"{keep.sum()} labels$"):
        rd.summarize(x, ym, out=tmp_path / "x.rqs", client=client)
    assert not (tmp_path / "x.rqs").exists() and _left(client) == []


def test_labels_chunked_otherwise_are_cut_as_the_embeddings(
        client: Any, has_shard: None, data: dict[str, Any], resque_bin_module: str) -> None:
    o = data["old"]
    x, y = da.from_array(o["x"], chunks=(SIZES, D)), da.from_array(o["y"], chunks=(17,))
    got = rd.task(x, y, client=client)
    _same_task(got, _whole_task(resque_bin_module, o))


def _whole_task(bin_: str, d: dict[str, Any]) -> Any:
    return cli_json(bin_, "measure", "task", "-e", d["all"], "-l", d["all_lab"], "--json")


def _same_task(got: dict[str, Any], want: dict[str, Any]) -> None:
    for k in ("kind", "value", "ari", "iterations", "k", "n", "init"):
        assert got[k] == want[k], k
    assert got["shards"]["count"] == len(SIZES) and got["shards"]["rows"] == sum(SIZES)


def test_task_equals_measure_task(client: Any, has_shard: None, data: dict[str, Any],
                                  tmp_path: Path, resque_bin_module: str) -> None:
    d = data["new"]
    want = _whole_task(resque_bin_module, d)
    assert want["iterations"] > 1 and 0 < want["value"] < 1
    got = rd.task(d["emb"], d["lab"], client=client, out=tmp_path / "task.json")
    _same_task(got, want)
    assert json.loads((tmp_path / "task.json").read_text()) == got
    assert got["shards"]["fingerprint"] == _shards_fp(resque_bin_module, d["emb"], d["lab"])


def test_a_deeper_tree_gives_the_same(client: Any, has_shard: None, data: dict[str, Any],
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      resque_bin_module: str) -> None:
    monkeypatch.setattr(rd, "FAN_IN", 2)  # 5 shards: three levels of merges
    d = data["new"]
    _same_task(rd.task(d["emb"], d["lab"], client=client), _whole_task(resque_bin_module, d))
    _same_dist(rd.dist((data["old"]["emb"], data["old"]["lab"]), (d["emb"], d["lab"]),
                       client=client), _whole_dist(resque_bin_module, data))


def test_task_of_dask_arrays(client: Any, has_shard: None, data: dict[str, Any],
                             resque_bin_module: str) -> None:
    d = data["old"]
    _same_task(rd.task(*_arrays(d), client=client), _whole_task(resque_bin_module, d))


def test_task_max_iter(client: Any, has_shard: None, data: dict[str, Any],
                       resque_bin_module: str) -> None:
    d = data["new"]
    got = rd.task(d["emb"], d["lab"], client=client, max_iter=1)
    assert got["iterations"] == 1
    with pytest.raises(ValueError, match="max_iter"):
        rd.task(d["emb"], d["lab"], client=client, max_iter=0)


def test_arguments_are_checked_before_any_work(data: dict[str, Any], tmp_path: Path) -> None:
    # client=object(): any use of the client would fail otherwise
    d = data["old"]
    x, y = _arrays(d)
    for bad in (5.0, "5", 0, -1, True):
        with pytest.raises(ValueError, match=f"^max_iter must be a positive integer, not {bad!r}$"):
            rd.task(d["emb"], d["lab"], client=object(), max_iter=bad)
    want = "^tensor='x' names a tensor of safetensors shard files; Dask arrays have none"
    for call in (lambda: rd.task(x, y, client=object(), tensor="x"),
                 lambda: rd.summarize(x, y, out=tmp_path / "x.rqs", client=object(), tensor="x"),
                 lambda: rd.dist((d["emb"], d["lab"]), (x, y), client=object(), tensor="x")):
        with pytest.raises(ValueError, match=want):
            call()
    with pytest.raises(ValueError, match="one labels file per shard"):
        rd.task(d["emb"], d["lab"][:1], client=object())
    with pytest.raises(ValueError, match="moments must be 1 or 2"):
        rd.summarize(d["emb"], d["lab"], out=tmp_path / "x.rqs", client=object(), moments=1.0)
    assert not (tmp_path / "x.rqs").exists()


def _writes(client: Any) -> dict[str, int]:
    return client.run(rd._chunk_writes)


def _written(client: Any, before: dict[str, int], chunks: int) -> int:
    """How many chunk files the workers wrote since ``before``: at most
    once per chunk on each worker."""
    now = _writes(client)
    per = [n - before.get(w, 0) for w, n in now.items()]
    assert all(0 <= n <= chunks for n in per), per
    return sum(per)


def test_each_chunk_is_written_once_per_call(has_shard: None, data: dict[str, Any],
                                             tmp_path: Path, resque_bin_module: str) -> None:
    # the map tasks of a shard are pinned to the worker that holds its
    # chunk: one .npy write per chunk for the whole call, every iteration.
    # Dask's work stealing may still move a pinned task when a worker is
    # busy (the thief then writes the chunk too), which a loaded machine
    # makes likely: this cluster has it off, so that the count is exact
    # (unpinned, the tasks move every iteration, ~2 writes per chunk).
    import dask
    from distributed import Client
    d = data["old"]
    x, y = da.from_array(d["x"], chunks=(8, D)), da.from_array(d["y"], chunks=(8,))
    chunks = len(x.chunks[0])
    with dask.config.set({"distributed.scheduler.work-stealing": False}), \
            _cluster() as cluster, Client(cluster) as client:
        before = _writes(client)
        got = rd.task(x, y, client=client)
        assert got["iterations"] > 1
        assert _written(client, before, chunks) == chunks
        before = _writes(client)
        rd.summarize(x, y, out=tmp_path / "s.rqs", client=client)
        assert _written(client, before, chunks) == chunks
        assert _left(client) == []


def test_errors_of_the_driver_name_the_shard(has_shard: None, data: dict[str, Any],
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             resque_bin_module: str) -> None:
    # a shard file changed between `shard stats` and the final step: `shard
    # result`, on the driver, names the user's file, not its temporary ones
    from distributed import Client
    d = data["new"]
    emb = []
    for i, e in enumerate(d["emb"]):
        emb.append(str(tmp_path / f"e{i}.npy"))
        Path(emb[-1]).write_bytes(Path(e).read_bytes())
    swap = tmp_path / "swap.npy"
    x = np.load(emb[2])
    x[len(x) // 2, 0] += 1  # a middle row: the shard keeps its identity
    np.save(swap, x)
    w = tmp_path / "resque-changer"
    w.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --final "*) for a; do\n'
        '\t[ "$a" = "$RQ_CHANGE" ] && mkdir "$RQ_MARK" 2>/dev/null && cp "$RQ_SWAP" "$a"\n'
        "done;; esac\n"
        'exec "$RQ_REAL_BIN" "$@"\n')
    w.chmod(w.stat().st_mode | stat.S_IXUSR)
    for k, v in {"RESQUE_BIN": str(w), "RQ_REAL_BIN": resque_bin_module, "RQ_CHANGE": emb[2],
                 "RQ_MARK": str(tmp_path / "changed"), "RQ_SWAP": str(swap)}.items():
        monkeypatch.setenv(k, v)
    with _cluster() as cluster, Client(cluster) as c:
        with pytest.raises(resque.Error) as e:
            rd.task(emb, d["lab"], client=c)
    assert (tmp_path / "changed").is_dir()
    m = e.value.message
    assert m.startswith("resque: the merged final partials"), m
    assert f"shard 3 of {len(SIZES)} ({emb[2]}, {SIZES[2]} rows)" in m, m
    assert "its embeddings file changed since `resque shard stats`" in m, m
    assert "resque-dask" not in e.value.message


def _twice(call: Any) -> Any:
    try:
        return call()
    except resque.Error as err:
        if "each shard must be given once" in err.message:
            pytest.skip("this build of resque refuses the same shard twice (older `resque shard`)")
        raise


def test_the_same_shard_twice(client: Any, has_shard: None, data: dict[str, Any],
                              tmp_path: Path, resque_bin_module: str) -> None:
    # the same file twice, and 1-row chunks of the same rows, are shards
    # like any other: the result is the CLI's on the concatenation
    d = data["old"]
    e, l = d["emb"][0], d["lab"][0]
    x = np.concatenate([np.load(e)] * 2)
    y = np.concatenate([np.load(l)] * 2)
    np.save(tmp_path / "twice.npy", x)
    np.save(tmp_path / "twice.l.npy", y)
    want = cli_json(resque_bin_module, "measure", "task", "-e", str(tmp_path / "twice.npy"),
                    "-l", str(tmp_path / "twice.l.npy"), "--json")
    got = _twice(lambda: rd.task([e, e], [l, l], client=client))
    for k in ("value", "ari", "iterations", "k", "n"):
        assert got[k] == want[k], k
    assert (got["shards"]["count"], got["shards"]["rows"]) == (2, len(y))
    got = _twice(lambda: rd.task(da.from_array(x, chunks=(1, D)), da.from_array(y, chunks=1),
                                 client=client))
    for k in ("value", "ari", "iterations", "k", "n"):
        assert got[k] == want[k], k
    assert (got["shards"]["count"], got["shards"]["rows"]) == (len(y), len(y))
    assert _left(client) == []


def _killer(tmp_path: Path, real: str, on: str) -> dict[str, str]:
    """RESQUE_BIN for a cluster: the first `resque ON ...` kills its caller,
    the Dask worker, with SIGKILL; every other call runs the real CLI."""
    w = tmp_path / "resque-killer"
    w.write_text(
        "#!/bin/sh\n"
        'cmd="$1 $2"\n'
        '[ "$1" = summarize ] && [ "$2" != --merge ] && cmd=summarize\n'
        'if [ "$cmd" = "$RQ_KILL_ON" ] && mkdir "$RQ_KILL_MARK" 2>/dev/null; then\n'
        '\techo "$PPID" >"$RQ_KILL_MARK/pid"\n'
        "\tkill -KILL \"$PPID\"\n"
        "\tsleep 5\n"
        "\texit 1\n"
        "fi\n"
        'exec "$RQ_REAL_BIN" "$@"\n')
    w.chmod(w.stat().st_mode | stat.S_IXUSR)
    return {"RESQUE_BIN": str(w), "RQ_REAL_BIN": real, "RQ_KILL_ON": on,
            "RQ_KILL_MARK": str(tmp_path / "killed")}


def _run_killed(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fn: Any) -> Any:
    from distributed import Client
    for k, v in env.items():
        monkeypatch.setenv(k, v)  # the workers (and their restarts) inherit it
    tmp = Path(env["RQ_KILL_MARK"]).parent
    monkeypatch.setenv("TMPDIR", str(tmp))  # the workers' directories are there
    with _cluster() as cluster, Client(cluster) as c:
        before = set(c.scheduler_info()["workers"])
        got = fn(c)
        pid = int(Path(env["RQ_KILL_MARK"], "pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert before - set(c.scheduler_info()["workers"]), "no worker was replaced"
    # the killed worker's scratch directory was in its Dask directory, which
    # the worker that replaced it removed
    assert sorted(tmp.rglob("resque-dask-*")) == []
    return got


def test_a_killed_worker_is_retried_summarize(data: dict[str, Any], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              resque_bin_module: str) -> None:
    o, n = data["old"], data["new"]
    env = _killer(tmp_path, resque_bin_module, "summarize")
    got = _run_killed(monkeypatch, env,
                      lambda c: rd.dist((o["emb"], o["lab"]), (n["emb"], n["lab"]), client=c))
    assert Path(env["RQ_KILL_MARK"]).is_dir()
    _same_dist(got, _whole_dist(resque_bin_module, data))


def test_a_killed_worker_is_retried_task(has_shard: None, data: dict[str, Any], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         resque_bin_module: str) -> None:
    d = data["new"]
    env = _killer(tmp_path, resque_bin_module, "shard step")
    got = _run_killed(monkeypatch, env, lambda c: rd.task(d["emb"], d["lab"], client=c))
    assert Path(env["RQ_KILL_MARK"]).is_dir()
    _same_task(got, _whole_task(resque_bin_module, d))


def test_a_killed_worker_is_retried_task_of_arrays(has_shard: None, data: dict[str, Any],
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   resque_bin_module: str) -> None:
    # the killed worker held chunks its tasks were pinned to: they run elsewhere
    d = data["new"]
    env = _killer(tmp_path, resque_bin_module, "shard step")
    got = _run_killed(monkeypatch, env, lambda c: rd.task(*_arrays(d), client=c))
    assert Path(env["RQ_KILL_MARK"]).is_dir()
    _same_task(got, _whole_task(resque_bin_module, d))


def test_without_a_client_a_local_cluster(data: dict[str, Any], tmp_path: Path,
                                          resque_bin_module: str) -> None:
    o = data["old"]
    got = rd.summarize(o["emb"], o["lab"], out=tmp_path / "s.rqs")
    assert got["rows"] == sum(SIZES)
    cli(resque_bin_module, "summarize", "--merge", "-o", str(tmp_path / "t.rqs"),
        str(tmp_path / "s.rqs"))
