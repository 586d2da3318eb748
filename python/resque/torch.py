"""PyTorch helpers: embeddings to ``.npy`` and weights to safetensors.

Needs torch (and numpy, which torch uses for ``Tensor.numpy()``); nothing
else. Every file is written atomically: to a temporary file in the same
directory, flushed to disk, then renamed, so an interrupted write never
leaves a file under the final name.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import tempfile
from typing import Any, Iterable, Mapping, NamedTuple

import torch

__all__ = ["Embeddings", "embeddings", "save_weights", "SAFETENSORS_DTYPES"]

#: torch dtype -> safetensors dtype name, every one both define.
SAFETENSORS_DTYPES: dict[torch.dtype, str] = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
# Newer torch (2.3 and later) has more dtypes that safetensors defines.
for _name, _st in (("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64"),
                   ("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2")):
    if hasattr(torch, _name):
        SAFETENSORS_DTYPES[getattr(torch, _name)] = _st
_BYTE_VIEWS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_NPY_HEADER = 128  # bytes: magic, version, length and a dict of any 64-bit shape
_LABEL_KEYS = ("label", "labels", "y", "target", "targets")
_INPUT_KEYS = ("x", "input", "inputs", "image", "images", "pixel_values", "data")


class Embeddings(NamedTuple):
    """What :func:`embeddings` wrote: the rows' file, the labels' file
    (None when the batches had no labels), the row count and dimension."""

    path: str
    labels_path: str | None
    rows: int
    dim: int


class _AtomicFile:
    """A file written under a temporary name and renamed into place by commit()."""

    def __init__(self, path: str) -> None:
        self.path = path
        d, base = os.path.split(os.path.abspath(path))
        self.dir = d
        fd, self.tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=d)
        mask = os.umask(0o22)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # as open() would create it, not mkstemp's 0600
        self.f = os.fdopen(fd, "wb")

    def finish(self) -> None:
        """Flush the data to disk (before commit)."""
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()

    def commit(self) -> None:
        """Rename into place and make the rename durable."""
        os.replace(self.tmp, self.path)
        _fsync_dir(self.dir)

    def abort(self) -> None:
        """Remove the temporary file."""
        if not self.f.closed:
            self.f.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def _fsync_dir(d: str) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """A version 1.0 .npy header of exactly _NPY_HEADER bytes."""
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    body = text.encode("latin1")
    pad = _NPY_HEADER - 10 - len(body) - 1
    if pad < 0:
        raise ValueError(f"shape {shape} does not fit a {_NPY_HEADER}-byte .npy header")
    body += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body


class _NpyStream:
    """A .npy file of rows appended one batch at a time (C order, little-endian)."""

    def __init__(self, path: str, descr: str) -> None:
        self.file = _AtomicFile(path)
        self.descr = descr
        self.rows = 0
        self.dim: int | None = None
        self.file.f.write(b"\0" * _NPY_HEADER)  # the real header once the row count is known

    def append(self, data: bytes, rows: int, dim: int | None) -> None:
        if dim is not None:
            if self.dim is not None and dim != self.dim:
                raise ValueError(f"rows of {dim} values after rows of {self.dim}: the layer's "
                                 "output size changed between batches")
            self.dim = dim
        self.file.f.write(data)
        self.rows += rows

    def finish(self) -> None:
        shape = (self.rows,) if self.dim is None else (self.rows, self.dim)
        self.file.f.seek(0)
        self.file.f.write(_npy_header(self.descr, shape))
        self.file.finish()


def _split_batch(batch: Any) -> tuple[Any, Any]:
    """(input, labels or None) of one batch; see :func:`embeddings`."""
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        if len(batch) >= 2:
            return batch[0], batch[1]
    if isinstance(batch, Mapping):
        x = next((batch[k] for k in _INPUT_KEYS if k in batch), None)
        y = next((batch[k] for k in _LABEL_KEYS if k in batch), None)
        if x is not None:
            return x, y
        raise ValueError(f"a dict batch needs one of the keys {', '.join(_INPUT_KEYS)} for its "
                         f"input (it has {', '.join(map(str, batch))})")
    raise TypeError(f"a batch must be a tensor, (x, y), [x, y] or a dict, not {type(batch).__name__}")


def _find_layer(model: torch.nn.Module, layer: str | torch.nn.Module) -> torch.nn.Module:
    modules = dict(model.named_modules())
    if isinstance(layer, torch.nn.Module):
        if not any(m is layer for m in modules.values()):
            raise ValueError("the layer given is not a module of the model")
        return layer
    if layer not in modules:
        names = ", ".join(n for n in modules if n) or "(none)"
        raise ValueError(f"the model has no module named {layer!r} (it has: {names})")
    return modules[layer]


def _to_device(x: Any, device: torch.device | None) -> Any:
    if device is None:
        return x
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, Mapping):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


def _rows(output: Any) -> torch.Tensor:
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        output = output[0]
    elif isinstance(output, Mapping):
        # a dict-like output (e.g. a ModelOutput): its first tensor
        output = next((v for v in output.values() if isinstance(v, torch.Tensor)), output)
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"the layer's output is a {type(output).__name__}, not a tensor")
    if output.dim() == 0:
        raise ValueError("the layer's output is a scalar, not a batch of rows")
    t = output.detach().cpu().to(torch.float32)
    return t.reshape(t.shape[0], -1).contiguous()


def _labels(y: Any, batch_rows: int) -> torch.Tensor:
    t = torch.as_tensor(y).detach().cpu()
    if t.is_floating_point() or t.is_complex():
        if not bool(torch.isfinite(t).all()) or not torch.equal(t, t.round()):
            raise ValueError("labels must be whole numbers (class indices), not "
                             f"{t.dtype} values such as {t.reshape(-1)[0].item()}")
    t = t.to(torch.int64).reshape(-1).contiguous()
    if t.numel() != batch_rows:
        raise ValueError(f"a batch has {batch_rows} rows and {t.numel()} labels (labels must "
                         "be one class index per row)")
    return t


def _le_bytes(t: torch.Tensor) -> bytes:
    """The tensor's bytes, C order, little-endian."""
    if t.dtype == torch.bfloat16 or SAFETENSORS_DTYPES.get(t.dtype, "").startswith(("F8", "U16", "U32", "U64")):
        # dtypes numpy lacks: their bits through a signed view of the same width
        t = t.contiguous().view(_BYTE_VIEWS[t.element_size()])
    a = t.contiguous().numpy()
    if sys.byteorder != "little" and a.dtype.itemsize > 1:
        a = a.byteswap()
    return a.tobytes()


def _out_paths(out: str | os.PathLike[str]) -> tuple[str, str]:
    base = os.fspath(out)
    if base.endswith(".npy"):
        base = base[:-4]
    where = os.path.dirname(base) or "."
    if not os.path.isdir(where):
        raise FileNotFoundError(f"{base}.npy: no such directory {where!r}")
    return base + ".npy", base + ".labels.npy"


def _stream(model: torch.nn.Module, loader: Iterable[Any], dev: torch.device | None,
            captured: list[Any], rows: _NpyStream, labels: _NpyStream) -> bool:
    """Run the loader through the model, appending the hooked rows and the
    labels; returns whether the batches had labels."""
    has_labels: bool | None = None
    for batch in loader:
        x, y = _split_batch(batch)
        captured.clear()
        model(_to_device(x, dev))
        if not captured:
            raise RuntimeError("the layer was not called by the model's forward pass")
        r = _rows(captured[-1])
        captured.clear()
        if has_labels is None:
            has_labels = y is not None
        elif has_labels != (y is not None):
            raise ValueError("some batches have labels and others not")
        rows.append(_le_bytes(r), r.shape[0], r.shape[1])
        if y is not None:
            labels.append(_le_bytes(_labels(y, r.shape[0])), r.shape[0], None)
    if rows.dim is None:
        raise ValueError("the loader gave no batches: nothing to write")
    return bool(has_labels)


def embeddings(model: torch.nn.Module, layer: str | torch.nn.Module, loader: Iterable[Any],
               out: str | os.PathLike[str] = "emb", device: str | torch.device | None = None
               ) -> Embeddings:
    """Stream a layer's outputs over a loader to ``OUT.npy`` and ``OUT.labels.npy``.

    ``layer`` is a name from ``model.named_modules()`` or the module itself;
    a forward hook on it takes its output (a tensor, or the first tensor of
    a tuple) of shape (B, ...), flattened to (B, D) float32 rows. The model
    runs in ``eval()`` under ``torch.no_grad()``; its training mode is
    restored afterwards. Only one batch is held at a time.

    Accepted batches: a tensor ``x`` (no labels); ``(x, y)`` or ``[x, y]``
    (more items are ignored; ``(x,)`` has no labels); a dict with the
    input under ``x``, ``input``, ``inputs``, ``image``, ``images``,
    ``pixel_values`` or ``data`` and the labels under ``label``,
    ``labels``, ``y``, ``target`` or ``targets``. Labels are one class
    index per row (an integer tensor, list, or whole-valued floats),
    written as int64; when no batch has labels no labels file is written
    (and an ``OUT.labels.npy`` left by an earlier call is removed).
    Inputs are moved to ``device`` (default: the device of the model's
    first parameter), so CPU and CUDA models both work.

    ``out`` is the path without ``.npy`` (a trailing ``.npy`` is dropped).
    The files are written under temporary names in the same directory,
    each with its ``.npy`` header rewritten with the final row count,
    flushed, and renamed into place (the labels first): an interrupted
    write leaves no ``OUT.npy``. The file's bytes do not depend on the
    batch size.
    """
    target = _find_layer(model, layer)
    if device is None:
        p = next(model.parameters(), None)
        dev = p.device if p is not None else None
    else:
        dev = torch.device(device)
    rows_path, labels_path = _out_paths(out)
    handle = None
    was_training = model.training
    rows = _NpyStream(rows_path, "<f4")
    try:
        labels = _NpyStream(labels_path, "<i8")
    except BaseException:
        rows.file.abort()
        raise
    try:
        captured: list[Any] = []
        handle = target.register_forward_hook(lambda _m, _i, o: captured.append(o))
        model.eval()
        with torch.no_grad():
            has_labels = _stream(model, loader, dev, captured, rows, labels)
        rows.finish()
        if has_labels:
            labels.finish()
            labels.file.commit()  # the labels first: OUT.npy's presence means both are whole
        else:
            labels.file.abort()
            if os.path.lexists(labels_path):  # a stale one would pair with these rows
                os.unlink(labels_path)
        rows.file.commit()
    except BaseException:
        rows.file.abort()
        labels.file.abort()
        raise
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
    assert rows.dim is not None
    return Embeddings(rows_path, labels_path if has_labels else None, rows.rows, rows.dim)


def _state_dict(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, Mapping):
        return obj
    raise TypeError(f"save_weights needs a torch.nn.Module or a state dict, not {type(obj).__name__}")


def save_weights(model_or_state_dict: torch.nn.Module | Mapping[str, torch.Tensor],
                 path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None) -> str:
    """Write a model's weights (or a state dict) as a safetensors file; returns the path.

    The format (https://huggingface.co/docs/safetensors): an 8-byte
    little-endian header length N, N bytes of JSON ``{NAME: {"dtype",
    "shape", "data_offsets": [BEGIN, END]}, "__metadata__": {...}}``
    padded with spaces to a multiple of 8, then each tensor's bytes,
    little-endian, C order, in the order of the sorted names. dtypes:
    F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL (any other raises TypeError).
    ``metadata`` (str to str) defaults to ``{"format": "pt"}``. Tensors
    sharing memory are written as copies. The write is atomic.
    """
    tensors = _state_dict(model_or_state_dict)
    header: dict[str, Any] = {"__metadata__": dict(metadata if metadata is not None else {"format": "pt"})}
    for k, v in header["__metadata__"].items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("safetensors metadata maps strings to strings")
    items: list[tuple[str, torch.Tensor]] = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: not a tensor ({type(t).__name__})")
        if t.dtype not in SAFETENSORS_DTYPES:
            raise TypeError(f"{name}: safetensors has no dtype for {t.dtype}")
        if name == "__metadata__":
            raise ValueError("a tensor may not be named __metadata__")
        t = t.detach().cpu()
        size = t.numel() * t.element_size()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + size]}
        items.append((name, t))
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    f = _AtomicFile(os.fspath(path))
    try:
        f.f.write(struct.pack("<Q", len(text)) + text)
        for _name, t in items:
            f.f.write(_le_bytes(t))
        f.finish()
        f.commit()
    except BaseException:
        f.abort()
        raise
    return os.fspath(path)
