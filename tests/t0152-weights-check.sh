#!/bin/sh
# Weights checked where a user would be misled: `diff --params W1 W2` checks
# the files against the versions' recorded fingerprints (--force compares
# them anyway, with a warning), and PyTorch checkpoints, pickles and zip
# archives given as weights or arrays are named, with what to save instead.
. "$(dirname "$0")/lib.sh"
test_requires B2SUM NUMPY

# Small fixtures written here: a zip laid out as torch.save writes one
# (ARCHIVE/data.pkl first), a legacy pickle per protocol, a .npz, a zip.
mkforeign() {
	"$PY" - <<-'PYEOF'
	import pickle, zipfile, numpy as np
	with zipfile.ZipFile("model.pt", "w") as z:
	    z.writestr("model/data.pkl", pickle.dumps({"fc.weight": 1}, protocol=2))
	    z.writestr("model/byteorder", "little")
	    z.writestr("model/data/0", b"\0" * 16)
	    z.writestr("model/version", "3\n")
	for p in (2, 3, 4, 5):
	    open("legacy%d.pth" % p, "wb").write(pickle.dumps({"fc.weight": [1.0, 2.0]}, protocol=p))
	np.savez("weights.npz", w=np.zeros(3, dtype=np.float32))
	with zipfile.ZipFile("other.zip", "w") as z:
	    z.writestr("readme.txt", "hello")
	PYEOF
}

SAVE="save the weights with safetensors instead: resque.torch.save_weights(model, PATH) or safetensors.torch.save_file(model.state_dict(), PATH)"

test_expect_success 'setup: two versions with safetensors weights, foreign files' '
	expect_success resque init p && cd p &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w2.safetensors 1 --scale 0.1 &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w3.safetensors 2 &&
	expect_success resque commit --weights w1.safetensors --name v1 &&
	expect_success resque commit --weights w2.safetensors --name v2 --parent v1 &&
	mkdir elsewhere && cp w1.safetensors w2.safetensors elsewhere/ &&
	mkforeign
'

test_expect_success 'diff --params with the versions'"'"' own files (copied elsewhere) compares them' '
	cd p && expect_success resque diff v1 v2 --params --json &&
	mean=$(json_get "$OUT" "d[\"params\"][\"mean\"]") &&
	expect_success resque diff v1 v2 --params elsewhere/w1.safetensors elsewhere/w2.safetensors --json &&
	test "$(json_get "$OUT" "d[\"params\"][\"mean\"]")" = "$mean" && test "$mean" != 0.0 &&
	test ! -s "$ERR"
'

test_expect_success 'diff --params refuses files that are not the versions'"'"' weights, names file and version' '
	cd p && repo_state >before &&
	expect_error 1 "w2.safetensors: not the weights of version v1 (its fingerprint b2:" \
		resque diff v1 v2 --params w2.safetensors w1.safetensors &&
	grep_err "give version v1'"'"'s weights, or --force to compare these files anyway" &&
	test ! -s "$OUT" &&
	expect_error 1 "w3.safetensors: not the weights of version v2" \
		resque diff v1 v2 --params w1.safetensors w3.safetensors &&
	test ! -s "$OUT" &&
	expect_error 1 "w1.safetensors: not the weights of version v2" \
		resque diff v1 v2 --params w1.safetensors w1.safetensors --json &&
	test ! -s "$OUT" &&
	repo_state >after && compare before after
'

test_expect_success 'diff --params --force compares other files with a warning' '
	cd p && repo_state >before &&
	expect_success resque diff v1 v2 --params w1.safetensors w1.safetensors --force --json &&
	grep_err "warning: w1.safetensors: not the weights of version v2 .*compared anyway \\(--force\\)" &&
	test "$(json_get "$OUT" "d[\"params\"][\"mean\"] == 0")" = True &&
	expect_failure 2 resque diff v1 v2 --force &&
	repo_state >after && compare before after
'

test_expect_success 'diff --params: a recorded file that changed is refused, or compared with --force' '
	cd p && cp w2.safetensors w2.orig && cp w3.safetensors w2.safetensors && repo_state >before &&
	expect_error 1 "w2.safetensors: no longer the weights of version v2 (fingerprint changed); give the files: --params W1 W2, or --force" \
		resque diff v1 v2 --params &&
	expect_success resque diff v1 v2 --params --force &&
	grep_err "warning: .*w2.safetensors: no longer the weights of version v2" && grep_out "mean" &&
	mv w2.orig w2.safetensors &&
	repo_state >after && compare before after
'

test_expect_success 'a PyTorch checkpoint given to diff --params is named, with what to save' '
	cd p && repo_state >before &&
	expect_error 1 "model.pt: a PyTorch checkpoint (torch.save, a zip archive), not a safetensors file; $SAVE" \
		resque diff v1 v2 --params model.pt w2.safetensors --force &&
	! grep -q "header of" "$ERR" &&
	expect_error 1 "model.pt: not the weights of version v1" resque diff v1 v2 --params model.pt w2.safetensors &&
	repo_state >after && compare before after
'

test_expect_success 'legacy pickles (protocols 2 to 5), .npz and other zips given as weights are named' '
	cd p && repo_state >before &&
	for p in 2 3 4 5; do
		expect_error 1 "legacy$p.pth: a Python pickle (protocol $p; a PyTorch checkpoint in torch.save'"'"'s legacy format?), not a safetensors file; $SAVE" \
			resque diff v1 v2 --params w1.safetensors legacy$p.pth --force || return 1
	done &&
	expect_error 1 "weights.npz: a NumPy .npz archive, not a safetensors file; $SAVE" \
		resque diff v1 v2 --params weights.npz w2.safetensors --force &&
	expect_error 1 "other.zip: a zip archive (a PyTorch checkpoint or .npz?), not a safetensors file; $SAVE" \
		resque diff v1 v2 --params other.zip w2.safetensors --force &&
	repo_state >after && compare before after
'

test_expect_success 'a version committed with .pt weights: diff --params and commit --parent say what it is' '
	cd p && expect_success resque commit --weights model.pt --name vpt &&
	repo_state >before &&
	expect_error 1 "model.pt: a PyTorch checkpoint (torch.save, a zip archive), not a safetensors file; $SAVE" \
		resque diff v1 vpt --params &&
	repo_state >after && compare before after &&
	expect_success resque commit --weights w3.safetensors --name v3 --parent vpt &&
	grep_err "note: parameter change not computed: .*model.pt: a PyTorch checkpoint"
'

test_expect_success 'a checkpoint or pickle given as an array is named too' '
	cd p &&
	expect_error 1 "model.pt: a PyTorch checkpoint (torch.save, a zip archive), not a .npy or safetensors file; save the array with numpy.save or safetensors instead" \
		rq-array-dump model.pt &&
	! grep -F "weights" "$ERR" &&
	repo_state >before &&
	expect_error 1 "model.pt: a PyTorch checkpoint (torch.save, a zip archive), not a .npy or safetensors file; save the array with numpy.save or safetensors instead" \
		resque commit --weights w3.safetensors --name v5 --embeddings model.pt --labels model.pt &&
	! grep -F "save_weights" "$ERR" &&
	repo_state >after && compare before after &&
	expect_error 1 "legacy2.pth: a Python pickle (protocol 2; a PyTorch checkpoint in torch.save'"'"'s legacy format?), not a .npy or safetensors file; save the array with numpy.save or safetensors instead" \
		rq-array-dump legacy2.pth &&
	repo_state >before &&
	expect_error 1 "legacy4.pth: a Python pickle (protocol 4" \
		resque commit --weights w3.safetensors --name v4 --embeddings legacy4.pth --labels legacy4.pth &&
	repo_state >after && compare before after
'

test_done
