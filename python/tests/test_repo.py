"""resque.Repo against the CLI's own JSON."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import resque
from conftest import cli, cli_json


def ledger(repo: resque.Repo) -> bytes:
    """What must not change on a failure: the ledger's head and index."""
    g = Path(repo.path) / ".resque"
    head = subprocess.run(["git", "--git-dir", str(g), "rev-parse", "ledger"],
                          capture_output=True).stdout
    return head + (g / "index.db").read_bytes()


def weights(path: Path, scale: float) -> Path:
    """A small safetensors file: one F32 tensor of 4 values."""
    import struct
    data = struct.pack("<4f", *(scale * (i + 1) for i in range(4)))
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


def test_init_returns_the_genesis_entry(resque_bin: str, repo: resque.Repo) -> None:
    log = cli_json(resque_bin, "log", "--json", cwd=repo.path)
    assert len(log) == 1 and log[0]["type"] == "init"
    assert (Path(repo.path) / ".resque").is_dir()
    assert repo.log() == log
    assert repo.show(log[0]["id"]) == cli_json(resque_bin, "show", "--json", log[0]["id"],
                                               cwd=repo.path)


def test_init_twice_is_an_error(repo: resque.Repo) -> None:
    before = ledger(repo)
    with pytest.raises(resque.Error) as e:
        repo.init()
    assert e.value.status == 1 and "resque" in e.value.message
    assert not isinstance(e.value, resque.IntegrityError)
    assert ledger(repo) == before


def test_commit_show_log_diff(resque_bin: str, repo: resque.Repo, tmp_path: Path) -> None:
    w1, w2 = weights(Path(repo.path) / "w1.safetensors", 1), weights(Path(repo.path) / "w2.safetensors", 2)
    (Path(repo.path) / "data").mkdir()
    (Path(repo.path) / "data" / "a.txt").write_text("a\n")
    d = repo.dataset_add("data", name="d1")
    shown = cli_json(resque_bin, "show", "--json", d["id"], cwd=repo.path)
    assert d["type"] == "dataset" and d["name"] == "d1" and d["body"]["files"] == 1
    assert {k: shown[k] for k in d} == d  # the entry --json printed is the one recorded
    v1 = repo.commit("w1.safetensors", "v1", data=["d1"])
    v2 = repo.commit(w2.name, "v2", parent="v1", meta={"lr": "0.1"}, message="second")
    assert v1["type"] == v2["type"] == "version"
    shown = cli_json(resque_bin, "show", "--json", "v2", cwd=repo.path)
    assert {k: shown[k] for k in v2} == v2
    assert v2["body"]["meta"] == {"lr": "0.1"} or "lr" in json.dumps(v2["body"])
    assert repo.show("v2") == cli_json(resque_bin, "show", "--json", "v2", cwd=repo.path)
    assert repo.show("v2")["id"] == v2["id"]
    assert repo.log() == cli_json(resque_bin, "log", "--json", cwd=repo.path)
    assert [e["id"] for e in repo.log(type="version")] == [v2["id"], v1["id"]]
    assert len(repo.log(max_count=2)) == 2
    assert repo.log(graph=True) == cli_json(resque_bin, "log", "--graph", "--json", cwd=repo.path)
    diff = repo.diff("v1", "v2", params=True)
    assert diff == cli_json(resque_bin, "diff", "--params", "--json", "v1", "v2", cwd=repo.path)
    assert diff["params"]["tensors"][0]["name"] == "w"
    assert repo.diff("v1", "v2", w1, w2, params=True)["params"] == diff["params"]
    assert w1.exists()


def summary_files(d: Path, shift: float) -> tuple[str, str]:
    """Embeddings (60 x 4, three classes) and labels as .npy files in d."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20).astype(np.int64)
    emb = (rng.normal(size=(60, 4)) + np.eye(4)[labels] * 3 + shift).astype(np.float32)
    np.save(d / f"emb{shift}.npy", emb)
    np.save(d / f"lab{shift}.npy", labels)
    return f"emb{shift}.npy", f"lab{shift}.npy"


def test_plan_record_report_verify(resque_bin: str, repo: resque.Repo) -> None:
    weights(Path(repo.path) / "w1.safetensors", 1)
    e0, l0 = summary_files(Path(repo.path), 0)
    e1, l1 = summary_files(Path(repo.path), 0.5)
    (Path(repo.path) / "cost.json").write_text('{"epochs": 10, "energy_kwh": 2, "duration_s": 600}')
    repo.commit("w1.safetensors", "v1", embeddings=e0, labels=l0, cost="cost.json")
    before = len(repo.log())
    plans = repo.plan(from_="v1", embeddings=e1, labels=l1, train_size=100, region="FR",
                      dry_run=True)
    assert plans["plans"] and len(repo.log()) == before
    p = repo.plan(from_="v1", embeddings=e1, labels=l1, train_size=100, region="FR")
    pid = p["plans"][0]["id"]
    assert len(repo.log()) == before + 1
    assert repo.show(pid) == cli_json(resque_bin, "show", "--json", pid, cwd=repo.path)
    a = repo.record(plan=pid, epochs=3, energy_kwh=0.5, duration_s=60,
                    epoch_energy_kwh=[0.2, 0.15, 0.15], target_missed=True)
    assert a["type"] == "actual"
    shown = cli_json(resque_bin, "show", "--json", a["id"], cwd=repo.path)
    assert shown["epochs"] == 3 and shown["target"] == "missed" and shown["plan"] == pid
    v = repo.verify()
    assert v["ok"] is True
    assert v["entries"] == cli_json(resque_bin, "verify", "--json", cwd=repo.path)["entries"]
    r = repo.report()
    assert r["verified"] is True
    ref = json.loads(cli(resque_bin, "report", "--format", "json", cwd=repo.path).stdout)
    assert r.keys() == ref.keys()


def test_errors_carry_the_cli_message_and_status(repo: resque.Repo) -> None:
    before = ledger(repo)
    with pytest.raises(resque.Error) as e:
        repo.show("nosuch")
    assert e.value.status == 1
    assert e.value.message == "resque: no entry named or identified by 'nosuch'"
    with pytest.raises(resque.Error) as e:
        repo.record(plan="deadbeef", epochs=1, energy_kwh=1)
    assert e.value.status == 1 and "deadbeef" in e.value.message
    with pytest.raises(resque.Error) as e:
        repo.plan(no_such_flag=True)
    assert e.value.status == 2 and "--no-such-flag" in e.value.message
    with pytest.raises(resque.Error) as e:
        repo.commit("missing.safetensors", "v9")
    assert e.value.status != 0 and "missing.safetensors" in e.value.message
    assert ledger(repo) == before


def test_not_a_repository(resque_bin: str, tmp_path: Path) -> None:
    with pytest.raises(resque.Error) as e:
        resque.Repo(tmp_path).log()
    assert e.value.status == 1 and "not in a resque repository" in e.value.message
    assert not (tmp_path / ".resque").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git (apt-get install git)")
def test_integrity_error_on_status_3(resque_bin: str, repo: resque.Repo) -> None:
    repo.commit(weights(Path(repo.path) / "w1.safetensors", 1).name, "v1")
    assert repo.verify()["ok"] is True  # remembered: 2 entries
    g = str(Path(repo.path) / ".resque")
    subprocess.run(["git", "--git-dir", g, "update-ref", "refs/heads/ledger", "ledger~1"], check=True)
    with pytest.raises(resque.IntegrityError) as e:
        repo.verify()
    assert e.value.status == 3 and "rolled back" in e.value.message + json.dumps(e.value.result)
    assert e.value.result is not None and e.value.result["ok"] is False
    with pytest.raises(resque.IntegrityError) as e:
        repo.report()
    assert e.value.status == 3 and "rolled back from 2 to 1 entries" in e.value.message


def test_a_missing_repository_directory_is_named(resque_bin: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(resque.Error) as e:
        resque.Repo(missing).log()
    assert "no such directory" in str(e.value) and str(missing) in str(e.value)
    with pytest.raises(resque.Error) as e:
        resque.track(repo=missing).start()
    assert "no such directory" in str(e.value)
