#!/bin/sh
# The Python package (python/resque, issue 15): its pytest suite
# (python/tests) against this build's CLI, and its offline installation.
# pytest's own skips (no CUDA, a CLI without `run --attach`) are counted
# here as skips with their reasons.
. "$(dirname "$0")/lib.sh"
test_lazy_prereq PYTEST '"$PY" -m pytest --version' 'python3-pytest (apt-get install python3-pytest)'
test_lazy_prereq TORCH '"$PY" -c "import torch, numpy"' 'python3-torch (apt-get install python3-torch)'
test_lazy_prereq PIP '"$PY" -m pip --version' 'python3-pip (apt-get install python3-pip)'

PYTHONPATH="$RQ_ROOT/python"
RESQUE_BIN="$RQ_BUILD/resque"
# nothing written into the source tree: no __pycache__, no .pytest_cache
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH RESQUE_BIN PYTHONDONTWRITEBYTECODE

# pytest_run NAME ARGS...: run pytest quietly on python/tests; the output
# in NAME.out; each of its skips becomes a counted skip with its reason.
pytest_run() {
	_n=$1 && shift
	"$PY" -m pytest -q -rs -p no:cacheprovider --basetemp="$SCRATCH/$_n.tmp" \
		"$@" >"$_n.out" 2>&1
	_st=$?
	sed -n 's/^SKIPPED \[[0-9]*\] //p' "$_n.out" | while IFS= read -r _r; do
		echo "$_r"
	done >"$_n.skips"
	if [ $_st -ne 0 ] || ! grep -Eq "^[0-9]+ passed" "$_n.out"; then
		cat "$_n.out" >&2
		return 1
	fi
	tail -1 "$_n.out" >&2
}

count_skips() { # NAME
	while IFS= read -r _r; do
		_w=${_r%%: *}
		test_skip "pytest: ${_w##*/}" "${_r#*: }"
	done <"$1.skips"
}

test_expect_success PYTEST 'pytest: the package, Repo and the tracker' '
	pytest_run core "$RQ_ROOT/python/tests" --ignore="$RQ_ROOT/python/tests/test_torch.py" \
		--ignore="$RQ_ROOT/python/tests/test_dask.py" &&
	grep -Eq "^[0-9]+ passed" core.out
'
[ -f core.skips ] && count_skips core

test_expect_success PYTEST,TORCH 'pytest: resque.torch embeddings and safetensors' '
	pytest_run torch "$RQ_ROOT/python/tests/test_torch.py"
'
[ -f torch.skips ] && count_skips torch

test_expect_success PYTEST 'a failing pytest case fails this script' '
	mkdir -p neg && printf "def test_fails():\n    assert 1 == 2\n" >neg/test_neg.py &&
	! pytest_run neg neg 2>/dev/null && grep -q "1 failed" neg.out
'

test_expect_success PIP 'pip installs the package offline, and it runs the CLI' '
	cp -R "$RQ_ROOT/python" src && rm -rf src/build src/*.egg-info &&
	"$PY" -m pip install -q --no-build-isolation --no-index --no-deps --target site ./src \
		>pip.out 2>&1 || { cat pip.out >&2; return 1; } &&
	test -f site/resque/__init__.py && test -f site/resque/py.typed &&
	PYTHONPATH=site expect_success "$PY" -m resque --version &&
	grep -q "^resque " "$OUT" &&
	PYTHONPATH=site expect_success "$PY" -c "import resque, resque.repo; print(resque.__file__)" &&
	grep -q "^$PWD/site/resque/__init__.py" "$OUT"
'

test_expect_success 'make install puts the package in the Python'"'"'s purelib under DESTDIR' '
	test -e "$RQ_BUILD/resque" || { say "no build in $RQ_BUILD"; return 1; }
	site=$("$PY" -c "import sysconfig; print(sysconfig.get_path(\"purelib\"))") &&
	# -o all: install what is built, never rebuild it with other flags
	make -s -C "$RQ_ROOT" -o all BUILD="$RQ_BUILD" DESTDIR="$PWD/dest" PREFIX=/usr/local install \
		>make.out 2>&1 || { cat make.out; return 1; }
	test -f "dest$site/resque/__init__.py" && test -f "dest$site/resque/tracker.py" &&
	test -f "dest$site/resque/py.typed" && ! test -e "dest$site/resque/__pycache__" &&
	PYTHONPATH="dest$site" RESQUE_BIN="$PWD/dest/usr/local/bin/resque" \
		expect_success "$PY" -c "import resque, sys; sys.exit(resque.binary() != sys.argv[1])" \
		"$PWD/dest/usr/local/bin/resque" &&
	PYTHONPATH="dest$site" RESQUE_BIN="$PWD/dest/usr/local/bin/resque" \
		expect_success "$PY" -m resque --version && grep -q "^resque " "$OUT"
'

test_expect_success 'make install without that Python: the rest installed, a note' '
	make -s -C "$RQ_ROOT" -o all BUILD="$RQ_BUILD" DESTDIR="$PWD/dest2" PREFIX=/usr/local \
		PYTHON="$PWD/no-python" install >make.out 2>&1 || { cat make.out; return 1; }
	grep -q "note: no $PWD/no-python: the Python package (python/resque) is not installed" make.out &&
	test -x dest2/usr/local/bin/resque &&
	test -z "$(find dest2 -name "*.py")"
'

test_done
