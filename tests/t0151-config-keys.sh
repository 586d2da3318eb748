#!/bin/sh
# resque config: unknown keys refused with the closest known one, keys of
# other git-config sections kept, --list with values, defaults and sources,
# and the old spelling of a corrected region.
. "$(dirname "$0")/lib.sh"

test_expect_success 'typos of known keys are refused with the closest one; nothing is written' '
	expect_success resque init p && cd p && repo_state >before &&
	expect_error 2 "resque: unknown key '"'"'regoin'"'"'; did you mean '"'"'region'"'"'?" resque config regoin FR &&
	expect_error 2 "unknown key '"'"'cpu-watt'"'"'; did you mean '"'"'cpu-watts'"'"'?" resque config cpu-watt 8 &&
	expect_error 2 "unknown key '"'"'cpuwatts'"'"'; did you mean '"'"'cpu-watts'"'"'?" resque config cpuwatts 8 &&
	expect_error 2 "unknown key '"'"'signing-key'"'"'; did you mean '"'"'signingkey'"'"'?" resque config signing-key ab12 &&
	expect_error 2 "unknown key '"'"'resque.regoin'"'"'; did you mean '"'"'resque.region'"'"'?" resque config resque.regoin FR &&
	expect_error 2 "unknown key '"'"'resqeu.region'"'"'; did you mean '"'"'resque.region'"'"'?" resque config resqeu.region FR &&
	expect_error 2 "unknown key '"'"'colour'"'"'; the keys are region, pue, signingkey, hardware and cpu-watts" resque config colour red &&
	expect_error 2 "unknown key '"'"'regoin'"'"'; did you mean '"'"'region'"'"'?" resque config regoin &&
	expect_error 2 "unknown key '"'"'regoin'"'"'; did you mean '"'"'region'"'"'?" resque config --unset regoin &&
	expect_error 1 "pue must be a decimal number" resque config PUE 0.5 &&
	expect_error 1 "pue must be a decimal number" resque config Resque.Pue 0.5 &&
	expect_error 1 "region '"'"'nowhere'"'"': unknown grid region" resque config REGION nowhere &&
	repo_state >after && compare before after &&
	! grep -qi regoin .resque/config && ! grep -qi resqeu .resque/config
'

test_expect_success 'known keys in any case, full names and other sections keep working' '
	cd p &&
	expect_success resque config Region FR && expect_success resque config resque.region && grep_out "^FR$" &&
	expect_success resque config cpu-watts 8 && expect_success resque config cpu-watts && grep_out "^8$" &&
	expect_success resque config remote.origin.url /tmp/x && expect_success resque config remote.origin.url &&
	grep_out "^/tmp/x$" &&
	expect_success resque config user.name "A Person" && expect_success resque config user.name && grep_out "^A Person$" &&
	expect_success resque config --unset user.name && expect_success resque config --unset cpu-watts
'

test_expect_success 'resque.id and resque.formatversion are read only' '
	cd p && repo_state >before &&
	expect_success resque config id && test -s "$OUT" &&
	expect_error 2 "resque.id is written by '"'"'resque init'"'"' and is read only" resque config id 00 &&
	expect_error 2 "resque.formatversion is written by '"'"'resque init'"'"' and is read only" resque config --unset formatversion &&
	repo_state >after && compare before after
'

test_expect_success 'a typo an earlier resque wrote is warned about and can be removed' '
	cd p && git config --file .resque/config resque.regoin FR &&
	expect_success resque config && grep_err "warning: .resque/config: resque.regoin is not a known key and is ignored; remove it: resque config --unset resque.regoin" &&
	expect_success resque config --list --json &&
	test "$(json_get "$OUT" "d[\"unknown\"]")" = "[{'"'"'name'"'"': '"'"'resque.regoin'"'"', '"'"'value'"'"': '"'"'FR'"'"', '"'"'where'"'"': '"'"'.resque/config'"'"'}]" &&
	expect_success resque config --unset resque.regoin && ! grep -qi regoin .resque/config &&
	expect_success resque config && test ! -s "$ERR"
'

test_expect_success 'config --list: every known key, its value, default and where it was set' '
	cd p && expect_success resque config pue 1.4 &&
	git config --file .resque/config --unset resque.region; git config --file .resque/config --unset resque.cpu-watts;
	RESQUE_CPU_WATTS=3.5 expect_success resque config --list &&
	grep_out "^KEY +VALUE +SET IN +DEFAULT" &&
	grep_out "^pue +1.4 +.resque/config +the cloud region" &&
	grep_out "^region +- +\(built-in default\) +none: no carbon is recorded" &&
	grep_out "^cpu-watts +3.5 +environment RESQUE_CPU_WATTS +the TDP table" &&
	grep_out "^hardware +- +\(built-in default\) +this machine.s profile: cpu:" &&
	grep_out "^id +[0-9a-f]+ +.resque/config +written by resque init \(read only\)" &&
	for k in region pue signingkey hardware cpu-watts id formatversion; do
		grep_out "^$k " || return 1
	done &&
	RESQUE_CPU_WATTS=3.5 expect_success resque config --list --json &&
	"$PY" - "$OUT" <<-PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	k = {x["key"]: x for x in d["keys"]}
	assert sorted(k) == sorted(["region", "pue", "signingkey", "hardware", "cpu-watts", "id", "formatversion"]), k
	assert k["pue"]["value"] == "1.4" and k["pue"]["source"] == "config" and k["pue"]["where"] == ".resque/config"
	assert k["region"]["value"] is None and k["region"]["source"] == "default" and k["region"]["where"] is None
	assert k["cpu-watts"]["value"] == "3.5" and k["cpu-watts"]["source"] == "environment"
	assert k["cpu-watts"]["where"] == "RESQUE_CPU_WATTS" and k["cpu-watts"]["name"] == "resque.cpu-watts"
	assert k["hardware"]["default"].startswith("this machine") and "profile: cpu:" in k["hardware"]["default"], k["hardware"]
	assert k["id"]["read_only"] is True and k["pue"]["read_only"] is False
	assert all(isinstance(x["default"], str) and x["default"] for x in d["keys"])
	assert d["unknown"] == []
	PYEOF
'

test_expect_success 'a setting in ~/.gitconfig is shown as set there' '
	cd p && git config --file "$HOME/.gitconfig" resque.hardware "cpu:Test x2" &&
	expect_success resque config --list --json &&
	test "$(json_get "$OUT" "[x for x in d[\"keys\"] if x[\"key\"] == \"hardware\"][0][\"where\"]")" = "~/.gitconfig" &&
	git config --file "$HOME/.gitconfig" --unset resque.hardware
'

test_expect_success 'a typo in ~/.gitconfig: the warning names that file and the git command that removes it' '
	cd p && git config --file "$HOME/.gitconfig" resque.regoin FR &&
	expect_success resque config &&
	grep_err "warning: ~/.gitconfig: resque.regoin is not a known key and is ignored; remove it: git config --global --unset resque.regoin" &&
	! grep -F "resque config --unset" "$ERR" &&
	git config --global --unset resque.regoin &&
	expect_success resque config && test ! -s "$ERR"
'

test_expect_success 'the old spelling of a corrected region resolves, with a warning' '
	cd p && expect_success resque config region azure:germanynortheastt &&
	grep_err "warning: region .azure:germanynortheastt. is now spelt .azure:germanynortheast." &&
	expect_success resque config region && grep_out "^azure:germanynortheast$" &&
	git config --file .resque/config resque.region azure:germanynortheastt &&
	expect_success resque config && grep_err "is now spelt .azure:germanynortheast." &&
	expect_success resque config region gcp:me-cenrtal1 && expect_success resque config region &&
	grep_out "^gcp:me-central1$" &&
	expect_error 1 "region '"'"'azure:germanynortheasttt'"'"': unknown grid region; close matches: azure:germanynortheast" \
		resque config region azure:germanynortheasttt
'

test_done
