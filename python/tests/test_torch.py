"""resque.torch: streamed embeddings and the safetensors writer."""
from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
import resque.torch as rt  # noqa: E402
from conftest import PY, cli, cli_json, python_env  # noqa: E402


def small_cnn() -> "torch.nn.Module":
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def data(n: int = 23) -> tuple["torch.Tensor", "torch.Tensor"]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 1, 8, 8, generator=g), torch.arange(n) % 3


def batches(x, y, size: int, layout: str = "tuple"):
    for i in range(0, len(x), size):
        xb, yb = x[i:i + size], y[i:i + size]
        yield {"tuple": (xb, yb), "list": [xb, yb], "dict": {"image": xb, "label": yb},
               "x": xb}[layout]


def npy_bytes(a) -> bytes:
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def test_embeddings_equal_a_direct_forward_pass(tmp_path: Path) -> None:
    m, (x, y) = small_cnn(), data()
    m.train()
    e = rt.embeddings(m, "2", batches(x, y, 5), out=tmp_path / "emb")
    assert e == rt.Embeddings(str(tmp_path / "emb.npy"), str(tmp_path / "emb.labels.npy"), 23, 16)
    assert m.training and all(mod.training for mod in m.modules())
    assert not m[2]._forward_hooks
    with torch.no_grad():
        ref = m[2](m[1](m[0](x))).reshape(23, -1).numpy()
    a = np.load(tmp_path / "emb.npy")
    assert a.dtype == np.float32 and a.shape == (23, 16)
    np.testing.assert_allclose(a, ref, rtol=1e-6, atol=1e-6)
    assert np.load(tmp_path / "emb.labels.npy").tolist() == y.tolist()
    assert (tmp_path / "emb.labels.npy").read_bytes() == npy_bytes(y.numpy().astype("<i8"))
    assert sorted(os.listdir(tmp_path)) == ["emb.labels.npy", "emb.npy"]


def test_the_file_is_identical_whatever_the_batch_size(tmp_path: Path) -> None:
    # a layer whose rows do not depend on the batch (elementwise): any byte
    # difference is the writer's
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(64, 2))
    x, y = data(23)
    files = []
    for size in (1, 4, 23, 100):
        out = tmp_path / f"e{size}"
        rt.embeddings(m, m[1], batches(x, y, size), out=str(out) + ".npy")
        files.append(((tmp_path / f"e{size}.npy").read_bytes(),
                      (tmp_path / f"e{size}.labels.npy").read_bytes()))
    assert all(f == files[0] for f in files)
    assert files[0][0] == npy_bytes(torch.tanh(x).reshape(23, 64).numpy())


@pytest.mark.parametrize("layout", ["tuple", "list", "dict", "x"])
def test_batch_layouts(tmp_path: Path, layout: str) -> None:
    m, (x, y) = small_cnn(), data(10)
    e = rt.embeddings(m, "4", batches(x, y, 4, layout), out=tmp_path / "emb")
    assert e.rows == 10 and e.dim == 8
    assert (e.labels_path is None) == (layout == "x")
    assert os.path.exists(tmp_path / "emb.labels.npy") == (layout != "x")
    rt.embeddings(m, "4", batches(x, y, 4, "x"), out=tmp_path / "emb")
    assert sorted(os.listdir(tmp_path)) == ["emb.npy"]  # no stale labels kept


def test_module_object_tuple_output_and_cuda(tmp_path: Path) -> None:
    class Pair(torch.nn.Module):
        def forward(self, x):
            return x * 2, x

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()

        def forward(self, x):
            return self.pair(x)[0].sum()

    net, (x, y) = Net(), data(6)
    rt.embeddings(net, net.pair, [(x, y.tolist())], out=tmp_path / "p")
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), (x * 2).reshape(6, -1).numpy())
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the CUDA case is not run")
    m = small_cnn().cuda()
    rt.embeddings(m, "4", batches(x, y, 4), out=tmp_path / "c")
    assert np.load(tmp_path / "c.npy").shape == (6, 8)


def test_bad_inputs_leave_no_file(tmp_path: Path) -> None:
    m, (x, y) = small_cnn(), data(8)
    with pytest.raises(ValueError, match="no module named 'nope'"):
        rt.embeddings(m, "nope", batches(x, y, 4), out=tmp_path / "e")
    with pytest.raises(ValueError, match="not a module of the model"):
        rt.embeddings(m, torch.nn.ReLU(), batches(x, y, 4), out=tmp_path / "e")
    with pytest.raises(ValueError, match="no batches"):
        rt.embeddings(m, "4", [], out=tmp_path / "e")
    with pytest.raises(ValueError, match="4 rows and 2 labels"):
        rt.embeddings(m, "4", [(x[:4], y[:2])], out=tmp_path / "e")
    with pytest.raises(ValueError, match="whole numbers"):
        rt.embeddings(m, "4", [(x[:4], torch.full((4,), 0.5))], out=tmp_path / "e")
    with pytest.raises(ValueError, match="some batches have labels"):
        rt.embeddings(m, "4", [(x[:4], y[:4]), x[4:]], out=tmp_path / "e")
    with pytest.raises(TypeError, match="a batch must be"):
        rt.embeddings(m, "4", [42], out=tmp_path / "e")
    with pytest.raises(ValueError, match="whole numbers"):  # inf is not a class
        rt.embeddings(m, "4", [(x[:4], torch.full((4,), float("inf")))], out=tmp_path / "e")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        rt.embeddings(m, "4", batches(x, y, 4), out=tmp_path / "nowhere" / "e")
    assert os.listdir(tmp_path) == []
    assert m.training


class DictOut(torch.nn.Module):
    """A layer whose output is a dict, as Hugging Face's ModelOutput."""

    def forward(self, x):
        return {"last_hidden_state": x.flatten(1) * 2, "other": 1}


def test_a_dict_output_gives_its_first_tensor(tmp_path: Path) -> None:
    m = torch.nn.Sequential(DictOut())
    x, y = data(6)
    rt.embeddings(m, "0", batches(x, y, 4), out=tmp_path / "d")
    got = np.load(tmp_path / "d.npy")
    assert np.array_equal(got, (x.flatten(1) * 2).numpy().astype(np.float32))


KILLED = """
import os, signal, sys, torch, resque.torch as rt
m = torch.nn.Sequential(torch.nn.Flatten())
def loader():
    for i in range(50):
        if i == 20:
            print("half", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        yield torch.randn(64, 32), torch.zeros(64, dtype=torch.long)
rt.embeddings(m, "0", loader(), out=sys.argv[1])
"""


def test_a_killed_writer_leaves_no_npy(tmp_path: Path) -> None:
    p = subprocess.run([PY, "-c", KILLED, str(tmp_path / "emb")], capture_output=True,
                       text=True, env=python_env())
    assert p.returncode == -signal.SIGKILL and p.stdout == "half\n"
    names = os.listdir(tmp_path)
    assert "emb.npy" not in names and "emb.labels.npy" not in names
    assert names and all(n.startswith(".emb.") and n.endswith(".tmp") for n in names)


# --- safetensors --------------------------------------------------------------

DTYPES = {  # torch dtype: (safetensors name, numpy dtype of the raw bytes)
    torch.float64: ("F64", "<f8"), torch.float32: ("F32", "<f4"), torch.float16: ("F16", "<f2"),
    torch.bfloat16: ("BF16", "<u2"), torch.int64: ("I64", "<i8"), torch.int32: ("I32", "<i4"),
    torch.int16: ("I16", "<i2"), torch.int8: ("I8", "i1"), torch.uint8: ("U8", "u1"),
    torch.bool: ("BOOL", "?"),
}


def read_safetensors(path: Path) -> tuple[dict, dict]:
    """A reader written from the format's specification: {name: (dtype, shape, raw)}."""
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0 and 8 + n <= len(blob)
    text = blob[8:8 + n]
    assert text.rstrip(b" ") == text.rstrip() and text.startswith(b"{")
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out, end = {}, 0
    for name, h in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = h["data_offsets"]
        assert b == end, "tensors must be contiguous"
        end = e
        out[name] = (h["dtype"], h["shape"], data[b:e])
    assert end == len(data), "no bytes after the last tensor"
    return out, meta


def every_dtype(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for dt in DTYPES:
        if dt.is_floating_point:
            t = torch.randn(3, 5, generator=g).to(dt)
        elif dt == torch.bool:
            t = torch.randint(0, 2, (3, 5), generator=g).bool()
        else:
            t = torch.randint(-100 if dt != torch.uint8 else 0, 100, (3, 5), generator=g).to(dt)
        sd[f"t.{DTYPES[dt][0].lower()}"] = t
    sd["scalar"] = torch.tensor(2.5)
    sd["strided"] = torch.arange(12.0).reshape(3, 4).t()  # not contiguous
    return sd


def test_safetensors_round_trip_every_dtype(tmp_path: Path) -> None:
    sd = every_dtype(0)
    rt.save_weights(sd, tmp_path / "w.safetensors")
    got, meta = read_safetensors(tmp_path / "w.safetensors")
    assert meta == {"format": "pt"} and set(got) == set(sd)
    for name, t in sd.items():
        dtype, shape, raw = got[name]
        assert dtype == DTYPES[t.dtype][0] and shape == list(t.shape)
        np_dt = DTYPES[t.dtype][1]
        if t.dtype == torch.bfloat16:  # the top 16 bits of the float32
            f32 = t.float().numpy().astype("<f4").view("<u4")
            assert np.frombuffer(raw, np_dt).tolist() == (f32 >> 16).reshape(-1).tolist()
        else:
            np.testing.assert_array_equal(np.frombuffer(raw, np_dt).reshape(t.shape), t.numpy())


def test_safetensors_read_back_by_resque(resque_bin: str, repo, tmp_path: Path) -> None:
    a, b = every_dtype(0), every_dtype(1)
    w1, w2 = Path(repo.path) / "w1.safetensors", Path(repo.path) / "w2.safetensors"
    rt.save_weights(a, w1)
    rt.save_weights(b, w2)
    repo.commit(w1.name, "v1")
    repo.commit(w2.name, "v2", parent="v1")
    d = cli_json(resque_bin, "diff", "--params", "--json", "v1", "v2", cwd=repo.path)["params"]
    changes = {t["name"]: t for t in d["tensors"]}
    for name in a:
        if not a[name].dtype.is_floating_point:
            continue
        w0, w = a[name].double().numpy(), b[name].double().numpy()
        expect = np.linalg.norm(w - w0) / np.sqrt(w.size)
        assert changes[name]["elements"] == w.size
        assert changes[name]["change"] == pytest.approx(expect, rel=1e-9), name
    text = cli(resque_bin, "diff", "--params", "v1", "v2", cwd=repo.path).stdout
    for name in a:
        if not a[name].dtype.is_floating_point:
            assert f"skipped: {name}" in text


def test_save_weights_of_a_model_and_metadata(tmp_path: Path) -> None:
    m = small_cnn()
    rt.save_weights(m, tmp_path / "m.safetensors", metadata={"epoch": "3"})
    got, meta = read_safetensors(tmp_path / "m.safetensors")
    assert meta == {"epoch": "3"} and set(got) == set(m.state_dict())
    w = m.state_dict()["0.weight"]
    np.testing.assert_array_equal(np.frombuffer(got["0.weight"][2], "<f4").reshape(w.shape), w.numpy())
    assert oct(os.stat(tmp_path / "m.safetensors").st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_save_weights_refuses_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="safetensors has no dtype for torch.complex64"):
        rt.save_weights({"a": torch.zeros(2), "c": torch.zeros(2, dtype=torch.complex64)},
                        tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match="b: not a tensor"):
        rt.save_weights({"a": torch.zeros(2), "b": 3}, tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match="a torch.nn.Module or a state dict"):
        rt.save_weights([torch.zeros(2)], tmp_path / "w.safetensors")
    assert os.listdir(tmp_path) == []
