#!/bin/sh
# Provenance (docs/FORMATS.md "Provenance"): `resque run` and `resque
# commit` record what produced the result -- resque's command line exactly,
# the directory relative to the project, the commit, branch and dirty flag
# of the git work tree the command ran in (found from the directory
# upwards, never the .resque ledger itself), and the machine's hardware --
# and `resque show` prints them. Work trees are made here with git init;
# a fake /proc/cpuinfo (RESQUE_PROC_ROOT) and a fake libnvidia-ml
# (RESQUE_NVML_LIB) make the machine.
. "$(dirname "$0")/lib.sh"
test_requires GIT PYTHON3

# No repository above the scratch directory may count (/tmp could be in one).
GIT_CEILING_DIRECTORIES=$(dirname "$SCRATCH")
export GIT_CEILING_DIRECTORIES
_path=$PATH

# prov ENTRY-REF PYTHON-EXPR: the expression, over `p` (the entry's
# provenance, None when it has none) and `b` (its body), must be true.
prov() {
	resque -C "$SCRATCH/code" show --json "$1" >"$SCRATCH/prov.json" 2>"$SCRATCH/prov.err" ||
		{ cat "$SCRATCH/prov.err" >&2; return 1; }
	"$PY" - "$SCRATCH/prov.json" "$2" <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	b = d["body"]
	p = b.get("provenance")
	if not eval(sys.argv[2]):
	    sys.exit("not true: %s\nprovenance: %s" % (sys.argv[2], json.dumps(p)))
	PY
}

# commit_here NAME [ARGS...]: resque commit a fresh weights file as version
# NAME from the current directory; the id in $ID.
commit_here() {
	_n=$1
	shift
	printf "weights of %s" "$_n" >"$SCRATCH/w-$_n.bin" &&
	expect_success resque "$@" commit --weights "$SCRATCH/w-$_n.bin" --name "$_n" --json &&
	ID=$(json_get "$OUT" "d[\"id\"]")
}

# the fake machine
machine() {
	RESQUE_PROC_ROOT="$SCRATCH/proc" RESQUE_NVML_LIB="$SCRATCH/libfake-nvml.so" FAKE_NVML_COUNT=3 \
		FAKE_NVML_NAME="NVIDIA A100-SXM4-40GB" FAKE_NVML_NAME0="Tesla T4" RESQUE_SYSFS_ROOT="$SCRATCH/nowhere" "$@"
}

test_expect_success 'setup: a git work tree with one commit holding the project' '
	git -c init.defaultBranch=main init -q code &&
	printf "echo training\n" >code/train.sh && mkdir code/sub && printf "x\n" >code/sub/keep &&
	git -C code add train.sh sub/keep && git -C code commit -q -m first &&
	expect_success resque init code &&
	mkdir -p proc && cp "$RQ_ROOT/tests/fixtures/cpuinfo/vm-epyc-7b13-4vcpu" proc/cpuinfo
'

test_expect_success 'commit in a clean work tree: its commit, branch main, not dirty; the project is untracked' '
	cd code && commit_here v1 &&
	head=$(git rev-parse HEAD) &&
	prov "$ID" "p[\"code\"] == {\"commit\": \"$head\", \"branch\": \"main\", \"dirty\": False}" &&
	prov "$ID" "p[\"cwd\"] == \".\" and p[\"argv\"][:2] == [\"resque\", \"commit\"]" &&
	prov "$ID" "sorted(p) == [\"argv\", \"code\", \"cwd\", \"hardware\"]"
'

test_expect_success 'a tracked file modified, staged, or deleted: dirty' '
	cd code && printf "echo changed\n" >>train.sh && commit_here v2 &&
	prov "$ID" "p[\"code\"][\"dirty\"] is True and p[\"code\"][\"commit\"] == \"$(git rev-parse HEAD)\"" &&
	git add train.sh && commit_here v3 && prov "$ID" "p[\"code\"][\"dirty\"] is True" &&
	git commit -q -m second && commit_here v4 &&
	prov "$ID" "p[\"code\"] == {\"commit\": \"$(git rev-parse HEAD)\", \"branch\": \"main\", \"dirty\": False}" &&
	rm sub/keep && commit_here v5 && prov "$ID" "p[\"code\"][\"dirty\"] is True" &&
	git checkout -q -- sub/keep
'

# Decided: untracked files do not make a work tree dirty (outputs, logs and
# the weights being committed are usually untracked).
test_expect_success 'untracked files only: not dirty' '
	cd code && printf junk >untracked.txt && mkdir -p out && printf w >out/model.bin &&
	commit_here v6 && prov "$ID" "p[\"code\"][\"dirty\"] is False" && rm -r untracked.txt out
'

test_expect_success 'from a subdirectory: cwd relative to the project root, the same work tree' '
	cd code/sub && commit_here v7 &&
	prov "$ID" "p[\"cwd\"] == \"sub\" and p[\"code\"][\"commit\"] == \"$(git rev-parse HEAD)\""
'

test_expect_success 'a detached HEAD: the commit, no branch' '
	cd code && first=$(git rev-parse HEAD~1) && git checkout -q --detach HEAD~1 &&
	commit_here v8 && git checkout -q main &&
	prov "$ID" "p[\"code\"] == {\"commit\": \"$first\", \"dirty\": False}"
'

test_expect_success 'a work tree with no commit yet: no commit, its branch; staged files make it dirty' '
	git -c init.defaultBranch=trunk init -q fresh && printf a >fresh/a.txt &&
	cd fresh && commit_here v9 -C ../code &&
	prov "$ID" "p[\"code\"] == {\"branch\": \"trunk\", \"dirty\": False} and \"cwd\" not in p" &&
	git add a.txt && commit_here v10 -C ../code &&
	prov "$ID" "p[\"code\"] == {\"branch\": \"trunk\", \"dirty\": True}"
'

test_expect_success 'outside any git work tree: no code, and a directory outside the project: no cwd' '
	mkdir plain && cd plain && commit_here v11 -C ../code &&
	prov "$ID" "\"code\" not in p and \"cwd\" not in p and p[\"argv\"][1:3] == [\"-C\", \"../code\"]"
'

test_expect_success 'in a bare repository, in a .git directory or in the ledger itself: no code' '
	git init -q --bare bare.git && cd "$SCRATCH/bare.git" && commit_here v12 -C ../code &&
	prov "$ID" "\"code\" not in p" &&
	cd "$SCRATCH/code/.git" && commit_here v13 && prov "$ID" "\"code\" not in p" &&
	cd "$SCRATCH/code/.resque" && commit_here v14 &&
	prov "$ID" "\"code\" not in p and p[\"cwd\"] == \".resque\""
'

test_expect_success 'GIT_CEILING_DIRECTORIES is honoured as git does' '
	cd code/sub && GIT_CEILING_DIRECTORIES="$SCRATCH/code" && ! git rev-parse --git-dir 2>/dev/null &&
	commit_here v15 && GIT_CEILING_DIRECTORIES=$(dirname "$SCRATCH") &&
	prov "$ID" "\"code\" not in p and p[\"cwd\"] == \"sub\""
'
GIT_CEILING_DIRECTORIES=$(dirname "$SCRATCH")

test_expect_success 'a work tree that cannot be read: a warning, the version recorded without code' '
	git init -q broken && printf "not an index" >broken/.git/index &&
	cd broken && commit_here v16 -C ../code &&
	grep -F "warning: the code'"'"'s version is not recorded: " "$ERR" &&
	prov "$ID" "\"code\" not in p and \"hardware\" in p"
'

test_expect_success 'run records argv exactly, and the command too, bytes that are not UTF-8 as \xHH' '
	cd code && bad=$(printf "x\377y") &&
	expect_success resque run --region FR --interval 0.05 --json -- sh -c "exit 0" "a b" "" "é" "it'"'"'s" "$bad" &&
	ID=$(json_get "$OUT" "d[\"id\"]") &&
	prov "$ID" "p[\"argv\"] == [\"resque\", \"run\", \"--region\", \"FR\", \"--interval\", \"0.05\", \"--json\", \"--\", \"sh\", \"-c\", \"exit 0\", \"a b\", \"\", \"é\", \"it'"'"'s\", \"x\\\\xffy\"]" &&
	prov "$ID" "b[\"command\"] == p[\"argv\"][8:]" &&
	prov "$ID" "p[\"code\"] == {\"commit\": \"$(git rev-parse HEAD)\", \"branch\": \"main\", \"dirty\": False}"
'

test_expect_success CC 'the hardware: CPU model and count, GPUs by model with their counts' '
	${CC:-cc} -shared -fPIC -O1 -o libfake-nvml.so "$RQ_ROOT/tests/fixtures/fake-nvml.c" &&
	cd code && machine expect_success resque run --region FR --interval 0.05 --json -- true &&
	ID=$(json_get "$OUT" "d[\"id\"]") &&
	prov "$ID" "p[\"hardware\"] == {\"cpu\": {\"model\": \"AMD EPYC 7B13\", \"count\": 4}, \"gpus\": [{\"model\": \"NVIDIA A100-SXM4-40GB\", \"count\": 2}, {\"model\": \"Tesla T4\", \"count\": 1}]}" &&
	machine commit_here v17 &&
	prov "$ID" "p[\"hardware\"][\"gpus\"][1] == {\"model\": \"Tesla T4\", \"count\": 1}" &&
	RESQUE_PROC_ROOT="$SCRATCH/proc" RESQUE_NVML_LIB="$SCRATCH/nope.so" commit_here v18 &&
	prov "$ID" "p[\"hardware\"] == {\"cpu\": {\"model\": \"AMD EPYC 7B13\", \"count\": 4}}"
'

cat >expect-command <<\EOF
  command  resque run --region FR --interval 0.05 --json -- sh -c 'exit 0' 'a b' 'it'\''s' ''
EOF
cat >expect-control <<\EOF
  command  resque run --region FR --interval 0.05 --json -- true $'a\x1b[2Jb' $'it\'s\x0a' $'c\xc2\x9bd'
EOF

test_expect_success 'show prints the provenance; show --json prints it as stored' '
	cd code && printf "echo dirty\n" >>train.sh &&
	expect_success resque run --region FR --interval 0.05 --json -- sh -c "exit 0" "a b" "it'"'"'s" "" &&
	git checkout -q -- train.sh && ID=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque show "$ID" &&
	grep -x "provenance" "$OUT" && grep -x -F -f ../expect-command "$OUT" &&
	grep -x -F "  cwd      ." "$OUT" &&
	grep -x -F "  code     $(git rev-parse HEAD) (branch main), dirty: tracked files differed from it" "$OUT" &&
	grep -x "  hardware cpu:.* x[0-9]*.*" "$OUT" &&
	expect_success resque show v1 && grep -x -F "  code     $(git rev-parse HEAD~1) (branch main)" "$OUT" &&
	expect_success resque show v13 && grep -x -F "  code     not recorded (not run in a git work tree)" "$OUT" &&
	expect_success resque show --raw "$ID" && cp "$OUT" raw.json &&
	expect_success resque show --json "$ID" &&
	"$PY" -c "import json,sys; a=json.load(open(sys.argv[1]))[\"body\"][\"provenance\"]; b=json.load(open(sys.argv[2]))[\"body\"][\"provenance\"]; assert a == b, (a, b)" raw.json "$OUT"
'

test_expect_success CC 'show of the fake machine: the hardware profile spelt as run records it' '
	cd code && expect_success resque show v17 &&
	grep -x -F "  hardware cpu:AMD EPYC 7B13 x4; gpu:NVIDIA A100-SXM4-40GB x2; gpu:Tesla T4 x1" "$OUT"
'

test_expect_success 'a file with a clean filter (git-lfs style), touched but not changed: not dirty' '
	git -c init.defaultBranch=main init -q filt && cd filt &&
	git config filter.up.clean "tr a-z A-Z" && git config filter.up.smudge cat &&
	printf "*.bin filter=up\n" >.gitattributes && printf "hello\n" >w.bin &&
	git add .gitattributes w.bin && git commit -q -m f && test -z "$(git status --porcelain -uno)" &&
	touch -d "2001-01-01" w.bin && commit_here v30 -C ../code &&
	prov "$ID" "p[\"code\"][\"dirty\"] is False" &&
	printf "changed\n" >w.bin && commit_here v31 -C ../code && prov "$ID" "p[\"code\"][\"dirty\"] is True"
'

test_expect_success 'a submodule: its untracked files do not count, its modified files do' '
	git -c init.defaultBranch=main init -q smsrc && printf "s\n" >smsrc/s.txt &&
	git -C smsrc add s.txt && git -C smsrc commit -q -m s &&
	git -c init.defaultBranch=main init -q withsm && cd withsm &&
	git -c protocol.file.allow=always submodule add -q ../smsrc sm && git commit -q -m sm &&
	printf "junk\n" >sm/untracked.txt && commit_here v32 -C ../code &&
	prov "$ID" "p[\"code\"][\"dirty\"] is False" &&
	printf "t\n" >>sm/s.txt && commit_here v33 -C ../code && prov "$ID" "p[\"code\"][\"dirty\"] is True"
'

test_expect_success 'without git on PATH libgit2 answers; a git status that hangs leaves dirty unknown' '
	cd code && printf "more\n" >>train.sh &&
	PATH="$RQ_BUILD" && commit_here v34 && PATH=$_path &&
	prov "$ID" "p[\"code\"][\"dirty\"] is True" &&
	git checkout -q -- train.sh && mkdir -p ../slowbin &&
	printf "#!/bin/sh\nexec sleep 60\n" >../slowbin/git && chmod +x ../slowbin/git &&
	PATH="$SCRATCH/slowbin:$PATH" && commit_here v35 && PATH=$_path &&
	grep -F "warning: the code'"'"'s dirty flag is not recorded: git status took more than 5 s" "$ERR" &&
	prov "$ID" "\"dirty\" not in p[\"code\"] and p[\"code\"][\"commit\"] == \"$(git rev-parse HEAD)\"" &&
	expect_success resque show "$ID" && grep -q "^  code     [0-9a-f]* (branch main), dirty or not: unknown$" "$OUT"
'

test_expect_success 'RESQUE_NO_ARGV=1 leaves argv out of run and commit; empty does not' '
	cd code && RESQUE_NO_ARGV=1 && export RESQUE_NO_ARGV && commit_here v36 &&
	prov "$ID" "\"argv\" not in p and \"code\" in p and \"hardware\" in p" &&
	expect_success resque run --region FR --interval 0.05 --json -- true secret-arg &&
	ID=$(json_get "$OUT" "d[\"id\"]") && prov "$ID" "\"argv\" not in p and b[\"command\"] == [\"true\", \"secret-arg\"]" &&
	RESQUE_NO_ARGV= && commit_here v37 && unset RESQUE_NO_ARGV &&
	prov "$ID" "p[\"argv\"][:2] == [\"resque\", \"commit\"]" &&
	resque run --help | grep -q "RESQUE_NO_ARGV=1" && resque commit --help | grep -q "RESQUE_NO_ARGV=1"
'

test_expect_success 'a malformed provenance.code shows as unreadable' '
	cd code &&
	printf "{\"name\": \"bad\", \"weights\": {\"path\": \"w.bin\", \"fingerprint\": \"b2:%064d\", \"bytes\": 1}, \"provenance\": {\"code\": {\"commit\": 5}}}" 0 |
		rq-append .resque version >/dev/null &&
	expect_success resque show bad && grep -x -F "  code     unreadable (a malformed provenance.code)" "$OUT"
'

test_expect_success 'show never prints control characters of a recorded argument' '
	cd code && expect_success resque run --region FR --interval 0.05 --json -- true "$(printf "a\033[2Jb")" "it'"'"'s
" "$(printf "c\302\233d")" &&
	ID=$(json_get "$OUT" "d[\"id\"]") && expect_success resque show "$ID" &&
	grep -x -F -f ../expect-control "$OUT" &&
	sed -n "/^provenance\$/,\$p" "$OUT" >prov.txt && test -s prov.txt && ! grep -q -e "$(printf "\033")" -e "$(printf "\302\233")" prov.txt
'

test_expect_success 'entries without provenance (older ledgers, notes) verify and show' '
	cd code &&
	printf "{\"name\": \"old\", \"weights\": {\"path\": \"w.bin\", \"fingerprint\": \"b2:%064d\", \"bytes\": 1}}" 0 |
		rq-append .resque version >old.id &&
	printf "{\"name\": \"odd\", \"weights\": {\"path\": \"w.bin\", \"fingerprint\": \"b2:%064d\", \"bytes\": 1}, \"provenance\": {\"argv\": [1, \"x\"], \"code\": {\"dirty\": 3}, \"hardware\": {\"gpus\": 7}}}" 0 |
		rq-append .resque version >odd.id &&
	expect_success resque show old && ! grep -q provenance "$OUT" && grep -q "^version old" "$OUT" &&
	expect_success resque show --json old && prov old "p is None" &&
	expect_success resque show odd && grep -x -F "  command  '"'"'?'"'"' x" "$OUT" &&
	grep -x -F "  hardware cpu:unknown x0" "$OUT" &&
	expect_success resque note -m "no provenance" --json &&
	ID=$(json_get "$OUT" "d[\"id\"]") && prov "$ID" "p is None" &&
	expect_success resque show "$ID" && ! grep -q "^provenance" "$OUT" &&
	expect_success resque verify
'

# wait_for TEXT FILE: until FILE holds TEXT (10 s at most).
wait_for() {
	_i=0
	while ! grep -q -F -e "$1" "$2" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -le 200 ] || { say "no '$1' in $2 after 10 s"; sed 's/^/  /' "$2" >&2; return 1; }
		sleep 0.05
	done
}
P=""
test_at_end '[ -n "$P" ] && kill "$P" 2>/dev/null'

test_expect_success 'run --attach PID: the directory and work tree of the process attached to' '
	(cd code/sub && exec sleep 30) &
	P=$! &&
	mkdir -p elsewhere && cd elsewhere &&
	{ resque -C ../code run --attach "$P" --meter estimate --cpu-watts 10 --interval 0.05 --json >att.out 2>att.err &
	  RP=$!; } &&
	wait_for "resque: attached to PID $P" att.err &&
	kill -s TERM "$RP" && wait "$RP" &&
	ID=$(json_get att.out "d[\"id\"]") && kill "$P" && P="" &&
	prov "$ID" "p[\"cwd\"] == \"sub\" and p[\"code\"][\"branch\"] == \"main\" and p[\"argv\"][3:5] == [\"run\", \"--attach\"]"
'

test_done
