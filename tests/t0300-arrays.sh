#!/bin/sh
# The array readers: .npy files written by numpy (every dtype, both byte
# orders, format versions 1.0/2.0/3.0, Fortran order) and safetensors files
# written byte by byte, read back through rq-array-dump and compared with
# numpy's own values; then every kind of bad input, which must be refused
# with exit 1 and a message naming the file and the problem.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

# ---- fixtures: numpy writes the files and the expected dumps ----
cat >gen.py <<'PYEOF'
import json, struct, sys
import numpy as np
from numpy.lib import format as npf

rng = np.random.default_rng(20250301)
cases = open("cases", "w")
NAMES = {"f2": "f2", "f4": "f4", "f8": "f8", "i1": "i1", "i2": "i2", "i4": "i4",
         "i8": "i8", "u1": "u1", "u2": "u2", "u4": "u4", "u8": "u8", "b1": "b1"}

def g17(x):
    return "%.17g" % float(x)

def expect_floats(path, arr, f64):
    """What the reader must print: rows, cols, dtype, then values converted
    by numpy to float32 (default) or float64 (--f64)."""
    a2 = arr.reshape(arr.shape[0], arr.shape[1] if arr.ndim == 2 else 1)
    conv = a2.astype(np.float64 if f64 else np.float32)
    code = arr.dtype.str[1:]
    with open(path, "w") as f:
        f.write("%d %d %s\n" % (a2.shape[0], a2.shape[1], NAMES.get(code, code)))
        for row in conv:
            f.write(" ".join(g17(v) for v in row) + "\n")

def expect_labels(path, arr, code):
    a1 = arr.reshape(-1)
    with open(path, "w") as f:
        f.write("%d 1 %s\n" % (a1.shape[0], code))
        for v in a1:
            f.write("%d\n" % int(v))

def case(name, args):
    cases.write("%s %s\n" % (name, args))

def save(path, arr, version):
    with open(path, "wb") as f:
        npf.write_array(f, arr, version=version)

def float_data(code, shape):
    x = rng.standard_normal(shape) * 3
    if code == "f2":
        # subnormals, the largest half, signed zero, tiny and odd values
        special = [6e-8, -6e-8, 6.1e-5, 65504.0, -65504.0, -0.0, 1.0 / 3, 1e-7]
        x.reshape(-1)[: len(special)] = special
    elif code == "f4":
        x.reshape(-1)[:4] = [1e-45, -3.4e38, -0.0, 1.17549435e-38]
    else:
        x.reshape(-1)[:4] = [5e-324, 1.7e308 / 1e270, -0.0, 2.0 ** -1022]
    return x.astype(code)

# Embeddings: every float dtype, both byte orders, every format version.
for code in ("f2", "f4", "f8"):
    for order in "<>":
        for ver in (1, 2, 3):
            arr = float_data(code, (23, 5)).astype(order + code)
            base = "emb-%s-%s-v%d" % (code, "le" if order == "<" else "be", ver)
            save(base + ".npy", arr, (ver, 0))
            expect_floats(base + ".f32", arr, False)
            expect_floats(base + ".f64", arr, True)
            case(base, base + ".npy")
        # Fortran order: numpy writes column-major data
        arr = np.asfortranarray(float_data(code, (17, 6)).astype(order + code))
        base = "emb-%s-%s-fortran" % (code, "le" if order == "<" else "be")
        np.save(base + ".npy", arr)
        expect_floats(base + ".f32", arr, False)
        expect_floats(base + ".f64", arr, True)
        case(base, base + ".npy")

# 1-D floats are N×1; an empty (0, 4) array has no rows; '=' is native order.
arr = rng.standard_normal(9).astype("<f4")
np.save("emb-1d.npy", arr)
expect_floats("emb-1d.f32", arr.reshape(9, 1), False)
expect_floats("emb-1d.f64", arr.reshape(9, 1), True)
case("emb-1d", "emb-1d.npy")
arr = np.zeros((0, 4), "<f8")
np.save("emb-empty.npy", arr)
expect_floats("emb-empty.f32", arr, False)
expect_floats("emb-empty.f64", arr, True)
case("emb-empty", "emb-empty.npy")

# Labels: every integer dtype and bool, both byte orders, 1-D and N×1.
for code in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"):
    for order in ("<", ">") if code[1] != "1" else ("|",):
        dt = np.dtype(order + code)
        if code == "b1":
            y = rng.integers(0, 2, 31).astype(bool)
        else:
            info = np.iinfo(dt)
            hi = min(int(info.max), 2 ** 63 - 1)
            y = rng.integers(int(info.min), hi, 31, endpoint=True).astype(dt)
            y[0], y[1] = info.min, hi
        base = "lab-%s-%s" % (code, {"<": "le", ">": "be", "|": "na"}[order])
        np.save(base + ".npy", y)
        expect_labels(base + ".lab", y, code)
        case(base, "--labels " + base + ".npy")
y = np.arange(12, dtype="<i8").reshape(12, 1) * -7
np.save("lab-n1.npy", y)
expect_labels("lab-n1.lab", y, "i8")
case("lab-n1", "--labels lab-n1.npy")

# ---- safetensors, written byte by byte ----
def st_write(path, tensors, metadata=None, header=None, extra=b"", pad=0):
    """tensors: list of (name, dtype, shape, data bytes) in file order."""
    hdr, blob = {}, b""
    for name, dt, shape, data in tensors:
        hdr[name] = {"dtype": dt, "shape": list(shape),
                     "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata is not None:
        hdr["__metadata__"] = metadata
    h = header if header is not None else json.dumps(hdr).encode()
    h += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.write(blob + extra)

def bf16(x):
    """float32 -> bfloat16 bytes by rounding to nearest even, and the exact
    float32 values those bytes hold."""
    u = np.asarray(x, "<f4").view("<u4").astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
    vals = (r.astype("<u4") << 16).view("<f4")
    return r.tobytes(), vals

ST = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
for dt, np_code in ST.items():
    x = float_data(np_code[1:], (11, 3)).astype(np_code)
    st_write("st-%s.safetensors" % dt, [("emb", dt, x.shape, x.tobytes())])
    expect_floats("st-%s.f32" % dt, x, False)
    expect_floats("st-%s.f64" % dt, x, True)
    case("st-%s" % dt, "st-%s.safetensors" % dt)
raw, vals = bf16(rng.standard_normal((13, 4)) * 100)
st_write("st-BF16.safetensors", [("emb", "BF16", (13, 4), raw)], pad=5)
for f64 in (False, True):
    with open("st-BF16.%s" % ("f64" if f64 else "f32"), "w") as f:
        f.write("13 4 bf16\n")
        for row in vals.reshape(13, 4):
            f.write(" ".join(g17(v) for v in row) + "\n")
case("st-BF16", "st-BF16.safetensors")
for dt, code in (("I8", "i1"), ("I16", "i2"), ("I32", "i4"), ("I64", "i8"),
                 ("U8", "u1"), ("U16", "u2"), ("U32", "u4"), ("U64", "u8"),
                 ("BOOL", "b1")):
    dtn = np.dtype("<" + code if code[1] != "1" else "|" + code)
    if code == "b1":
        y = rng.integers(0, 2, 19).astype(bool)
    else:
        info = np.iinfo(dtn)
        y = rng.integers(int(info.min), min(int(info.max), 2 ** 63 - 1), 19,
                         endpoint=True).astype(dtn)
    st_write("st-%s.safetensors" % dt, [("y", dt, (19,), y.tobytes())])
    expect_labels("st-%s.lab" % dt, y, code)
    case("st-%s" % dt, "--labels st-%s.safetensors" % dt)

# Several tensors, chosen by name.
e = rng.standard_normal((6, 4)).astype("<f4")
y = np.arange(6, dtype="<i8") - 3
w = rng.standard_normal((3, 2)).astype("<f8")
st_write("multi.safetensors", [("w", "F64", w.shape, w.tobytes()),
                               ("emb", "F32", e.shape, e.tobytes()),
                               ("labels", "I64", y.shape, y.tobytes())],
         metadata={"format": "pt", "layer": "avgpool"})
expect_floats("multi-emb.f32", e, False)
expect_floats("multi-emb.f64", e, True)
case("multi-emb", "--tensor emb multi.safetensors")
expect_floats("multi-w.f32", w, False)
expect_floats("multi-w.f64", w, True)
case("multi-w", "--tensor w multi.safetensors")
expect_labels("multi-labels.lab", y, "i8")
case("multi-labels", "--labels --tensor labels multi.safetensors")

# ---- bad inputs ----
def npy_raw(path, header, data, version=1, hlen=None):
    h = header.encode()
    pad = (-(len(h) + 1 + (10 if version == 1 else 12))) % 64
    h = h + b" " * pad + b"\n"
    n = len(h) if hlen is None else hlen
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]))
        f.write(struct.pack("<H", n) if version == 1 else struct.pack("<I", n))
        f.write(h + data)

d40 = np.arange(40, dtype="<f4").tobytes()
npy_raw("bad-big-shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 4), }", d40)
npy_raw("bad-overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", d40)
npy_raw("bad-hugedim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 4), }", d40)
npy_raw("bad-negative.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-10, 4), }", d40)
npy_raw("bad-json.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 4", d40)
npy_raw("bad-nokey.npy", "{'descr': '<f4', 'shape': (10, 4), }", d40)
npy_raw("bad-hlen.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 4), }", b"", hlen=60000)
npy_raw("bad-hlen-v2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 4), }", b"", version=2, hlen=0xFFFFFFF0)
npy_raw("bad-version.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 4), }", d40, version=4)
npy_raw("bad-zero-cols.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 0), }", b"")
npy_raw("bad-byteorder.npy", "{'descr': '|f4', 'fortran_order': False, 'shape': (10, 4), }", d40)
np.save("bad-3d.npy", np.zeros((2, 3, 4), "<f4"))
np.save("bad-scalar.npy", np.float32(1.5))
np.save("bad-complex.npy", np.zeros((3, 2), "<c8"))
np.save("bad-object.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
np.save("bad-struct.npy", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))
good = open("emb-f4-le-v1.npy", "rb").read()
open("bad-trunc.npy", "wb").write(good[:-3])
open("bad-trunc-header.npy", "wb").write(good[:9])
np.savez("bad.npz", a=np.zeros(3))
open("bad-random.bin", "wb").write(bytes(range(7, 200)))
open("bad-empty.npy", "wb").close()

x = rng.standard_normal((8, 5)).astype("<f4"); x[3, 2] = np.nan
np.save("nan-f4.npy", x)
x = np.asfortranarray(rng.standard_normal((6, 4)).astype(">f2")); x[1, 3] = np.inf
np.save("inf-f2-fortran.npy", x)
x = rng.standard_normal((5, 3)).astype(">f8"); x[4, 0] = -np.inf
np.save("ninf-f8.npy", x)
x = rng.standard_normal((5, 3)).astype("<f8"); x[2, 1] = 1e300
np.save("big-f8.npy", x)
raw, _ = bf16(np.ones((2, 2)))
raw = raw[:6] + struct.pack("<H", 0x7FC0)  # a bfloat16 NaN at (1, 1)
st_write("nan-bf16.safetensors", [("emb", "BF16", (2, 2), raw)])

np.save("lab-float.npy", np.zeros(10, "<f4"))
np.save("lab-2d.npy", np.zeros((10, 3), "<i8"))
np.save("lab-999.npy", np.zeros(999, "<i8"))
np.save("lab-1000.npy", np.zeros(1000, "<i8"))
np.save("emb-1000.npy", np.zeros((1000, 4), "<f4"))
np.save("emb-int.npy", np.zeros((1000, 4), "<i4"))
np.save("lab-u64-big.npy", np.array([1, 2, 2 ** 63], "<u8"))

f4 = np.arange(6, dtype="<f4").tobytes()
st_write("st-hlen.safetensors", [], header=b'{"a": 1}')
with open("st-hlen.safetensors", "r+b") as f:
    f.write(struct.pack("<Q", 2 ** 40))
st_write("st-json.safetensors", [], header=b'{"emb": {"dtype": "F32", "shape": [2, 3], ')
st_write("st-notobj.safetensors", [], header=b'[1, 2, 3]')
st_write("st-outside.safetensors", [], header=json.dumps(
    {"emb": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 2400]}}).encode(), extra=f4)
st_write("st-reversed.safetensors", [], header=json.dumps(
    {"emb": {"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 0]}}).encode(), extra=f4)
st_write("st-short.safetensors", [], header=json.dumps(
    {"emb": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}).encode(), extra=f4[:20])
st_write("st-overlap.safetensors", [], header=json.dumps(
    {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
     "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}).encode(), extra=f4)
st_write("st-gap.safetensors", [], header=json.dumps(
    {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}).encode(), extra=f4)
st_write("st-trailing.safetensors", [("a", "F32", (2, 2), f4[:16])], extra=b"junk")
st_write("st-negative.safetensors", [], header=json.dumps(
    {"emb": {"dtype": "F32", "shape": [-2, 3], "data_offsets": [0, 24]}}).encode(), extra=f4)
st_write("st-overflow.safetensors", [], header=json.dumps(
    {"emb": {"dtype": "F64", "shape": [4611686018427387904, 4611686018427387904],
             "data_offsets": [0, 24]}}).encode(), extra=f4)
st_write("st-dtype.safetensors", [("emb", "C128", (2, 3), f4)])
st_write("st-f8.safetensors", [("emb", "F8_E4M3", (2, 3), f4[:6])])
st_write("st-3d.safetensors", [("emb", "F32", (1, 2, 3), f4)])
st_write("st-none.safetensors", [], metadata={"k": "v"})
PYEOF

test_expect_success 'numpy writes the fixtures' '
	"$PY" gen.py && test "$(wc -l <cases)" -ge 58
'

test_expect_success 'the dump helper is built' '
	command -v rq-array-dump >/dev/null
'

# Each case: the dump as float32 (or labels) equals numpy's values exactly,
# read in blocks of 7 rows; floats also as float64 and in one block.
while read -r name args; do
	case "$name" in lab-*|st-[IU]*|st-BOOL|multi-labels)
		test_expect_success "labels $name" "
			expect_success rq-array-dump $args && compare $name.lab \"\$OUT\"
		"
		;;
	*)
		test_expect_success "embeddings $name as float32 and float64" "
			expect_success rq-array-dump $args && compare $name.f32 \"\$OUT\" &&
			expect_success rq-array-dump --f64 --block 1000 $args &&
			compare $name.f64 \"\$OUT\"
		"
		;;
	esac
done <cases

test_expect_success 'float32 block sizes do not change the values' '
	for b in 1 2 5 22 23 24; do
		expect_success rq-array-dump --block $b emb-f4-be-v2.npy && compare emb-f4-be-v2.f32 "$OUT" &&
		expect_success rq-array-dump --block $b emb-f2-le-fortran.npy &&
		compare emb-f2-le-fortran.f32 "$OUT" || return 1
	done
'

test_expect_success 'a shape larger than the file is refused with the row count held' '
	expect_error 1 "bad-big-shape.npy: header says 1000 rows of 4 float32 but the file holds 10 rows" \
		rq-array-dump bad-big-shape.npy
'

test_expect_success 'a truncated file is refused with the fraction of rows held' '
	expect_error 1 "bad-trunc.npy: header says 23 rows of 5 float32 but the file holds 22.85 rows" \
		rq-array-dump bad-trunc.npy &&
	expect_error 1 "bad-trunc-header.npy: truncated .npy header" rq-array-dump bad-trunc-header.npy &&
	expect_error 1 "bad-hlen.npy: truncated .npy header: it says 60000 bytes" rq-array-dump bad-hlen.npy &&
	expect_error 1 "bad-hlen-v2.npy: truncated .npy header: it says 4294967280 bytes" \
		rq-array-dump bad-hlen-v2.npy
'

test_expect_success 'overflowing and negative dimensions are refused' '
	expect_error 1 "bad-overflow.npy: shape (4611686018427387904, 4611686018427387904) of float32 is too large" \
		rq-array-dump bad-overflow.npy &&
	expect_error 1 "bad-hugedim.npy: dimension in .npy shape is too large" rq-array-dump bad-hugedim.npy &&
	expect_error 1 "bad-negative.npy: negative dimension" rq-array-dump bad-negative.npy &&
	expect_error 1 "bad-zero-cols.npy: array has 1000000 rows of 0 columns" rq-array-dump bad-zero-cols.npy
'

test_expect_success 'broken .npy headers are refused' '
	expect_error 1 "bad-json.npy: malformed .npy header: expected" rq-array-dump bad-json.npy &&
	expect_error 1 "bad-nokey.npy: .npy header lacks '"'"'fortran_order'"'"'" rq-array-dump bad-nokey.npy &&
	expect_error 1 "bad-version.npy: unsupported .npy format version 4.0" rq-array-dump bad-version.npy &&
	expect_error 1 "bad-byteorder.npy: dtype '"'"'|f4'"'"' lacks a byte order" rq-array-dump bad-byteorder.npy
'

test_expect_success 'more than 2 dimensions and scalars are refused' '
	expect_error 1 "bad-3d.npy: array has 3 dimensions (2, 3, 4)" rq-array-dump bad-3d.npy &&
	expect_error 1 "bad-scalar.npy: array is a scalar" rq-array-dump bad-scalar.npy &&
	expect_error 1 "st-3d.safetensors: array has 3 dimensions (1, 2, 3)" rq-array-dump st-3d.safetensors
'

test_expect_success 'unsupported dtypes are refused by name' '
	expect_error 1 "bad-complex.npy: unsupported dtype '"'"'<c8'"'"'" rq-array-dump bad-complex.npy &&
	expect_error 1 "bad-object.npy: object arrays (pickled Python objects) are not supported" \
		rq-array-dump bad-object.npy &&
	expect_error 1 "bad-struct.npy: structured dtypes" rq-array-dump bad-struct.npy &&
	expect_error 1 "st-dtype.safetensors: tensor '"'"'emb'"'"' has unknown dtype '"'"'C128'"'"'" \
		rq-array-dump st-dtype.safetensors &&
	expect_error 1 "st-f8.safetensors: tensor '"'"'emb'"'"': dtype F8_E4M3 is not supported" \
		rq-array-dump st-f8.safetensors
'

test_expect_success 'files that are neither format are refused' '
	expect_error 1 "bad.npz: a NumPy .npz archive, not a .npy or safetensors file; save each array with numpy.save" rq-array-dump bad.npz &&
	expect_error 1 "bad-random.bin: neither a .npy nor a safetensors file" rq-array-dump bad-random.bin &&
	expect_error 1 "bad-empty.npy: empty file" rq-array-dump bad-empty.npy &&
	expect_error 1 "no-such.npy: No such file or directory" rq-array-dump no-such.npy &&
	mkdir adir && expect_error 1 "adir: not a regular file" rq-array-dump adir
'

test_expect_success 'non-finite values are reported with row and column (from 0)' '
	expect_error 1 "nan-f4.npy: non-finite value (nan) at row 3, column 2" rq-array-dump nan-f4.npy &&
	expect_error 1 "nan-f4.npy: non-finite value (nan) at row 3, column 2" rq-array-dump --f64 nan-f4.npy &&
	expect_error 1 "inf-f2-fortran.npy: non-finite value (inf) at row 1, column 3" \
		rq-array-dump inf-f2-fortran.npy &&
	expect_error 1 "ninf-f8.npy: non-finite value (-inf) at row 4, column 0" rq-array-dump ninf-f8.npy &&
	expect_error 1 "nan-bf16.safetensors: non-finite value (nan) at row 1, column 1" \
		rq-array-dump nan-bf16.safetensors
'

test_expect_success 'a float64 too large for float32 is refused, but read as float64' '
	expect_error 1 "big-f8.npy: value 1e+300 at row 2, column 1 overflows float32" rq-array-dump big-f8.npy &&
	expect_success rq-array-dump --f64 big-f8.npy && grep -q "^[^ ]* 1.0000000000000001e+300 " "$OUT"
'

test_expect_success 'labels must be integers of one column that fit in int64' '
	expect_error 1 "lab-float.npy: labels must be integers, found float32" rq-array-dump --labels lab-float.npy &&
	expect_error 1 "lab-2d.npy: labels must be 1-D (or N×1), found 10×3" rq-array-dump --labels lab-2d.npy &&
	expect_error 1 "lab-u64-big.npy: label 9223372036854775808 at row 2 does not fit in int64" \
		rq-array-dump --labels lab-u64-big.npy
'

test_expect_success 'open_pair: label count must match the rows, dtypes are checked' '
	expect_success rq-array-dump --pair lab-1000.npy emb-1000.npy && test "$(cat "$OUT")" = "1000 4" &&
	expect_error 1 "lab-999.npy has 999 labels but emb-1000.npy has 1000 rows" \
		rq-array-dump --pair lab-999.npy emb-1000.npy &&
	expect_error 1 "lab-float.npy: labels must be integers, found float32" \
		rq-array-dump --pair lab-float.npy emb-1000.npy &&
	expect_error 1 "emb-int.npy: embeddings must be floating point" \
		rq-array-dump --pair lab-1000.npy emb-int.npy &&
	expect_error 1 "lab-n1.npy has 12 labels but multi.safetensors has 6 rows" \
		rq-array-dump --tensor emb --pair lab-n1.npy multi.safetensors
'

test_expect_success 'safetensors: tensor choice lists the names' '
	expect_error 1 "multi.safetensors: holds 3 tensors (emb, labels, w); choose one with --tensor NAME" \
		rq-array-dump multi.safetensors &&
	expect_error 1 "multi.safetensors: no tensor '"'"'nope'"'"' (it holds: emb, labels, w)" \
		rq-array-dump --tensor nope multi.safetensors &&
	expect_error 1 "st-none.safetensors: holds no tensors" rq-array-dump st-none.safetensors &&
	expect_error 1 "emb-1d.npy: a .npy file holds one array" rq-array-dump --tensor x emb-1d.npy
'

test_expect_success 'safetensors: lying header length and broken JSON' '
	expect_error 1 "st-hlen.safetensors: safetensors header of 1099511627776 bytes runs past the end" \
		rq-array-dump st-hlen.safetensors &&
	expect_error 1 "st-json.safetensors: invalid JSON" rq-array-dump st-json.safetensors &&
	expect_error 1 "st-notobj.safetensors: neither a .npy nor a safetensors file" rq-array-dump st-notobj.safetensors
'

test_expect_success 'safetensors: offsets outside the buffer, reversed, short, overlapping, gaps' '
	expect_error 1 "st-outside.safetensors: tensor '"'"'emb'"'"': data_offsets [0, 2400] lie outside the 24 data bytes" \
		rq-array-dump st-outside.safetensors &&
	expect_error 1 "st-reversed.safetensors: tensor '"'"'emb'"'"': data_offsets [24, 0] lie outside" \
		rq-array-dump st-reversed.safetensors &&
	expect_error 1 "st-short.safetensors: tensor '"'"'emb'"'"' (F32, 2 dimensions) needs 24 bytes but its data_offsets [0, 20] span 20" \
		rq-array-dump st-short.safetensors &&
	expect_error 1 "st-overlap.safetensors: tensors '"'"'a'"'"' and '"'"'b'"'"' overlap" \
		rq-array-dump --tensor a st-overlap.safetensors &&
	expect_error 1 "st-gap.safetensors: 8 unused bytes before tensor '"'"'a'"'"'" rq-array-dump st-gap.safetensors &&
	expect_error 1 "st-trailing.safetensors: 4 bytes after the last tensor" rq-array-dump st-trailing.safetensors
'

test_expect_success 'safetensors: negative and overflowing shapes' '
	expect_error 1 "st-negative.safetensors: tensor '"'"'emb'"'"': dimension 0 of its shape is not a non-negative integer" \
		rq-array-dump st-negative.safetensors &&
	expect_error 1 "st-overflow.safetensors: tensor '"'"'emb'"'"': shape is too large" \
		rq-array-dump st-overflow.safetensors
'

test_done
