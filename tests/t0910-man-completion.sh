#!/bin/sh
# Man pages and bash/zsh completion (issue 17 item 1), generated from the
# commands' option tables (resque --gen-docs, cmd/gendoc.c): every option
# the parser accepts, for every command and subcommand, is in its man page
# and in both completion scripts; the pages render without a warning; bash
# completion really completes; `make install` puts them where man, bash and
# zsh look; usage lines show required options as required, and opt_parse
# refuses their absence.
. "$(dirname "$0")/lib.sh"

test_lazy_prereq GROFF 'command -v groff' 'groff (apt-get install groff-base)'
test_lazy_prereq MAN 'command -v man' 'man (apt-get install man-db)'
test_lazy_prereq BASH 'command -v bash' 'bash (apt-get install bash)'
test_lazy_prereq ZSH 'command -v zsh' 'zsh (apt-get install zsh)'

DOC="$SCRATCH/doc"

# The options of the dump: "PATH<TAB>OPTION" for every option (long and
# short) of every command's table, PATH being "key gen" or "commit"; not
# the OPT_HIDDEN ones, parsed but documented nowhere on purpose.
dump_options() {
	awk -F '\t' '$1 != "option" || $2 == "" || $7 ~ /hidden/ { next }
		$3 ~ /^--/ { print $2 "\t" $3 }
		$4 != "" { print $2 "\t" $4 }' dump
}

test_expect_success 'resque --dump-options: a table for every command and subcommand' '
	expect_success resque --dump-options && cp "$OUT" dump &&
	awk -F "\t" "\$1 == \"command\" && \$2 != \"\" { print \$2 }" dump >commands &&
	# every command of resque --help is a command or a family of subcommands
	resque --help | awk "/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print \$1 }" >listed &&
	test -s listed &&
	while read -r c; do
		grep -q -x -e "$c" -e "$c .*" commands ||
			{ say "no option table for $c"; return 1; }
	done <listed &&
	for f in "key gen" "measure dist" "import nvidia-smi" "audit check" commit plan run; do
		grep -q -x "$f" commands || { say "no table for $f"; return 1; }
	done &&
	grep -q "^family	key	gen	list	add	revoke	export$" dump &&
	dump_options >options && test "$(wc -l <options)" -gt 150
'

test_expect_success 'every option table of cmd/*.c is in the dump' '
	# independent of the collection: the tables as written in the sources
	sed -n "s/.*{ *OPT_\(BOOL\|STRING\|INT\|DOUBLE\|LIST\), *\(0\|'"'"'.'"'"'\), *\"\([a-z0-9-]*\)\".*/\3/p" \
		"$RQ_ROOT"/cmd/*.c | sort -u >in-sources &&
	test "$(wc -l <in-sources)" -gt 60 &&
	awk -F "\t" "\$1 == \"option\" && \$3 ~ /^--/ { print substr(\$3, 3) }" dump | sort -u >in-dump &&
	comm -23 in-sources in-dump >lost &&
	{ test ! -s lost || { say "options of the sources not in the dump: $(cat lost)"; return 1; }; }
'

test_expect_success 'the parser accepts every option of the dump, and nothing is run' '
	repo_state >state.before &&
	while IFS="	" read -r path o; do
		kind=$(awk -F "\t" -v p="$path" -v o="$o" \
			"\$1 == \"option\" && \$2 == p && (\$3 == o || \$4 == o) { print \$5 }" dump) &&
		case $kind in
		bool) set -- "$o" ;;
		*) case $o in --*) set -- "$o=1" ;; *) set -- "${o}1" ;; esac ;;
		esac &&
		# shellcheck disable=SC2086
		expect_failure 2 resque $path "$@" --zz-no-such-option ||
			{ say "resque $path $*: not a usage error"; return 1; }
		grep -q "unknown option .--zz-no-such-option." "$ERR" ||
			{ say "resque $path $* --zz-no-such-option: $(head -n 1 "$ERR")"; return 1; }
	done <options &&
	repo_state >state.after && compare state.before state.after && ! test -e .resque &&
	# the global options main() parses by hand, as the dump lists them
	test "$(awk -F "\t" "\$1 == \"option\" && \$2 == \"\" { print \$3 \$4 }" dump | tr "\n" " ")" = \
		"-C --color --no-pager --version-v --help-h " &&
	for o in -v --version -h --help "--color --version" "--no-pager --version"; do
		# shellcheck disable=SC2086
		expect_success resque -C . $o || return 1
	done &&
	expect_error 2 "unknown option" resque --zz-no-such-option
'

test_expect_success 'resque --gen-docs writes a page per command, family and subcommand' '
	expect_success resque --gen-docs "$DOC" &&
	test -s "$DOC/man1/resque.1" && test -s "$DOC/bash/resque" && test -s "$DOC/zsh/_resque" &&
	while read -r c; do
		page=$DOC/man1/resque-$(echo "$c" | tr " " -).1 &&
		test -s "$page" || { say "no page $page"; return 1; }
	done <commands &&
	for f in $(awk -F "\t" "\$1 == \"family\" { print \$2 }" dump); do
		test -s "$DOC/man1/resque-$f.1" || { say "no page for the family $f"; return 1; }
	done &&
	# the build writes the same (make all: $RQ_BUILD/doc)
	if test -d "$RQ_BUILD/doc/man1"; then
		diff -r -x stamp "$RQ_BUILD/doc" "$DOC" >doc.diff ||
			{ say "$RQ_BUILD/doc is stale: make all"; head -n 20 doc.diff; return 1; }
	fi
'

test_expect_success 'every option is in its man page; resque(1) names every command' '
	while IFS="	" read -r path o; do
		page=$DOC/man1/resque-$(echo "$path" | tr " " -).1
		pat=$(printf "%s" "$o" | sed "s/-/\\\\\\\\-/g")
		grep -q -e "fB$pat\\\\fR" "$page" || { say "$o not in $page"; return 1; }
	done <options &&
	while read -r c; do
		grep -q "^\.BR resque\\\\-$(echo "$c" | sed "s/-/\\\\\\\\-/g") (1)" "$DOC/man1/resque.1" ||
			{ say "resque.1 lacks $c"; return 1; }
	done <listed &&
	grep -q "^\.BR resque\\\\-key\\\\-gen (1)" "$DOC/man1/resque-key.1" &&
	# the global options, in resque(1)
	awk -F "\t" "\$1 == \"option\" && \$2 == \"\" { if (\$3 != \"\") print \$3; if (\$4 != \"\") print \$4 }" dump >global &&
	test -s global &&
	while read -r o; do
		pat=$(printf "%s" "$o" | sed "s/-/\\\\\\\\-/g")
		grep -q -e "fB$pat\\\\fR" "$DOC/man1/resque.1" || { say "$o not in resque.1"; return 1; }
	done <global
'

test_expect_success GROFF 'the pages render without a warning (groff -ww)' '
	for p in "$DOC"/man1/*.1; do
		groff -ww -man -z "$p" >groff.out 2>&1 &&
		{ test ! -s groff.out || { say "$p:"; cat groff.out; return 1; }; } || return 1
	done
'

test_expect_success MAN 'man -l renders them without a warning' '
	for p in "$DOC"/man1/*.1; do
		MANWIDTH=80 man --warnings -l "$p" >page.txt 2>man.err &&
		{ test ! -s man.err || { say "$p:"; cat man.err; return 1; }; } || return 1
	done &&
	MANWIDTH=80 man -l "$DOC/man1/resque-commit.1" >page.txt 2>/dev/null &&
	grep -q "^ *resque-commit - record a model version" page.txt &&
	grep -q -e "--weights PATH" page.txt
'

# complete WORD...: COMPREPLY of the bash completion for the command line
# "WORD... " with the cursor on the last WORD (one per line).
cat >complete.bash <<'EOF'
. "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
_resque
printf '%s\n' "${COMPREPLY[@]}"
EOF
complete() {
	bash complete.bash "$DOC/bash/resque" "$@"
}

test_expect_success BASH 'bash: every option of every command completes' '
	bash -n "$DOC/bash/resque" &&
	# one bash for all commands: "--" then the words the function gives
	cut -f 1 options | sort -u >paths &&
	{
		echo ". \"$DOC/bash/resque\"" &&
		while read -r path; do
			echo "COMP_WORDS=(resque $path -); COMP_CWORD=\${#COMP_WORDS[@]}; COMP_CWORD=\$((COMP_CWORD - 1)); _resque"
			echo "for w in \"\${COMPREPLY[@]}\"; do printf \"%s\t%s\n\" \"$path\" \"\$w\"; done"
		done <paths
	} >all.bash &&
	bash all.bash >completed &&
	sort options >want && sort completed >got &&
	comm -23 want got >missing &&
	{ test ! -s missing || { say "not completed:"; cat missing; return 1; }; }
'

test_expect_success BASH 'bash: commands, subcommands, option values, files' '
	mkdir -p dir-a && : >weights-a.bin &&
	test "$(complete resque com)" = commit &&
	test "$(complete resque -C . co | tr "\n" " ")" = "commit config " &&
	test "$(complete resque key g)" = gen &&
	test "$(complete resque help pl)" = plan &&
	test "$(complete resque measure dist --o)" = --old &&
	test "$(complete resque plan --kind "" | tr "\n" " ")" = "dist task " &&
	test "$(complete resque commit --weights weights-)" = weights-a.bin &&
	test "$(complete resque commit -w weights-)" = weights-a.bin &&
	test "$(complete resque -C dir-)" = dir-a &&
	test "$(complete resque -- 2>/dev/null | grep -c .)" -ge 0 &&
	complete resque - >completed-global &&
	while read -r o; do
		grep -q -x -e "$o" completed-global || { say "bash: $o not completed"; return 1; }
	done <global &&
	# the words of the command resque run runs are not ours
	test -z "$(complete resque run -- --we)" &&
	# a value that is no file (a number, a name) is not completed as one
	test -z "$(complete resque log -n weights-)"
'

# zsh: the generated functions with _arguments and _describe stubbed,
# printing what they are given: the specs of each command's options.
cat >complete.zsh <<'EOF'
_arguments() {
	if [[ $1 == -C ]]; then state=$ZSTATE; return 0; fi
	print -rl -- "$@"
}
_describe() { print -rl -- "${(@P)${@[-1]}}"; }
source "$1" >/dev/null
shift
ZSTATE=$1
shift
words=("$@")
CURRENT=$#
_resque
EOF

test_expect_success ZSH 'zsh: the script parses and every option is offered' '
	zsh -n "$DOC/zsh/_resque" &&
	head -n 1 "$DOC/zsh/_resque" | grep -q "^#compdef resque$" &&
	while read -r path; do
		# shellcheck disable=SC2086
		zsh -f complete.zsh "$DOC/zsh/_resque" argument $path "" >specs || return 1
		grep -q "^\*:file:_files$" specs || { say "no specs for $path"; return 1; }
		awk -F "\t" -v p="$path" "\$1 == p { print \$2 }" options | while read -r o; do
			grep -q -e "^$o\[" -e "^\*$o\[" -e "^([^)]*) *$o\[" -e "^\*$o\[" specs ||
				{ say "zsh: $path $o not offered"; cat specs; exit 1; }
		done || return 1
	done <paths &&
	zsh -f complete.zsh "$DOC/zsh/_resque" command "" >cmds &&
	grep -q "^commit:record a model version" cmds &&
	zsh -f complete.zsh "$DOC/zsh/_resque" argument key "" >subs &&
	grep -q "^gen:" subs
'

test_expect_success 'the reverse: every option that completion or a man page offers is accepted' '
	# bash: the _resque_options table, "PATH<TAB>OPTION"
	sed -n "s/^	'"'"'\([a-z -]*\)'"'"') echo '"'"'\(.*\)'"'"' ;;\$/\1	\2/p" "$DOC/bash/resque" |
		awk -F "\t" "{ n = split(\$2, w, \" \"); for (i = 1; i <= n; i++) if (w[i] ~ /^-/) print \$1 \"\t\" w[i] }" >offered &&
	# man pages: the bold options of each command page
	while read -r path; do
		page=$DOC/man1/resque-$(echo "$path" | tr " " -).1 &&
		{ grep -o "fB\\\\-[\\\\a-zA-Z0-9-]*\\\\fR" "$page" || :; } | sed "s/^fB//; s/\\\\fR\$//; s/\\\\-/-/g" |
			while read -r o; do printf "%s\t%s\n" "$path" "$o"; done >>offered || return 1
	done <commands &&
	grep -q "^remote add	--help$" offered && grep -q "^commit	--weights$" offered &&
	# the global options (path ""): those of the dump, which main() accepts (above)
	awk -F "\t" "\$1 == \"\" { print \$2 }" offered | sort -u >offered.global &&
	sort -u global | comm -23 offered.global - >extra.global &&
	{ test ! -s extra.global || { say "global options offered, not parsed: $(cat extra.global)"; return 1; }; } &&
	awk -F "\t" "\$1 != \"\"" offered | sort -u >offered.u && sort -u options >options.u &&
	comm -23 offered.u options.u >extra &&
	# what is offered but not in the dump must be accepted as it is (-h, --help)
	while IFS="	" read -r path o; do
		# shellcheck disable=SC2086
		expect_success resque $path "$o" || { say "offered but refused: resque $path $o"; return 1; }
	done <extra &&
	test "$(cut -f 2 extra | sort -u | tr "\n" " ")" = "--help -h "
'

test_expect_success 'remote add and remove have tables, pages and completion; help completes commands only' '
	grep -q -x "remote add" commands && grep -q -x "remote remove" commands &&
	test -s "$DOC/man1/resque-remote-add.1" && test -s "$DOC/man1/resque-remote-remove.1" &&
	grep -q "^resque remote add NAME URL" "$DOC/man1/resque-remote-add.1" &&
	grep -q "^\.BR resque\\\\-remote (1)" "$DOC/man1/resque-remote-add.1" &&
	grep -q "^\.SH OPTIONS" "$DOC/man1/resque-remote.1" && grep -q "fB\\\\-\\\\-verbose" "$DOC/man1/resque-remote.1" &&
	if test_have_prereq BASH; then
		test "$(complete resque remote "" | tr "\n" " ")" = "add remove " &&
		test "$(complete resque remote a)" = add &&
		test "$(complete resque remote --v)" = --verbose &&
		test "$(complete resque remote add --h)" = --help &&
		test -z "$(complete resque help v | grep -x version)" &&
		test -z "$(complete resque help h | grep -x help)" &&
		test "$(complete resque help ver)" = verify
	fi &&
	expect_failure 2 resque help version && expect_failure 2 resque help help
'

test_expect_success 'resque(1): the synopsis from the global options, the environment variables' '
	grep -q "^\\\\fBresque\\\\fR \[\\\\fB\\\\-C\\\\fR \\\\fIDIR\\\\fR\] \[\\\\fB\\\\-\\\\-color\\\\fR\[=\\\\fIWHEN\\\\fR\]\] \[\\\\fB\\\\-\\\\-no\\\\-pager\\\\fR\]" "$DOC/man1/resque.1" &&
	sed -n "/^\.SH ENVIRONMENT/,/^\.SH SEE ALSO/p" "$DOC/man1/resque.1" >env.roff &&
	for v in RESQUE_DIR RESQUE_HOME RESQUE_PASSPHRASE RESQUE_EVENTS RESQUE_PAGER PAGER LESS NO_COLOR TERM RESQUE_NO_ARGV; do
		grep -q "^\.B $v\$" env.roff || { say "resque.1 ENVIRONMENT lacks $v"; return 1; }
	done
'

test_expect_success 'usage lines show required options without brackets' '
	resque commit --help | head -n 1 >usage &&
	grep -q "^usage: resque commit --weights PATH --name NAME \[--parent REF\]" usage &&
	resque note --help | head -n 1 | grep -q "^usage: resque note --message TEXT \[--json\]$" &&
	resque measure dist --help | head -n 1 | grep -q " --old OLD --new NEW " &&
	grep -q "^resque commit \\\\-\\\\-weights PATH \\\\-\\\\-name NAME \[" "$DOC/man1/resque-commit.1" &&
	awk -F "\t" "\$1 == \"option\" && \$7 == \"required\" && \$3 ~ /^--/ { print \$2 \": \" \$3 }" dump >required &&
	for want in "commit: --weights" "commit: --name" "note: --message" "record: --plan" \
		"measure dist: --old" "measure dist: --new" "measure task: --embeddings" \
		"measure task: --labels" "audit check: --key" "audit check: --checkpoint" "audit report: --key"; do
		grep -q -x "$want" required || { say "$want is not marked required"; return 1; }
	done
'

test_expect_success 'a missing required option is a usage error; nothing is written' '
	expect_success resque init &&
	repo_state >before &&
	: >w.bin &&
	expect_error 2 "missing --weights PATH and --name NAME" resque commit &&
	grep -q "^usage: resque commit --weights PATH --name NAME" "$ERR" &&
	expect_error 2 "missing --name NAME" resque commit --weights w.bin &&
	expect_error 2 "missing --weights PATH" resque commit --name v1 &&
	expect_error 2 "missing --message TEXT" resque note &&
	expect_error 2 "a note needs a message" resque note -m "" &&
	expect_error 2 "missing --plan ID" resque record --epochs 3 --energy-kwh 1 &&
	expect_error 2 "missing --key PUBKEY and --checkpoint FILE" resque audit check --inclusion p --entry e &&
	expect_error 2 "missing --key PUBKEY" resque audit report r.json &&
	expect_error 2 "missing --old OLD and --new NEW" resque measure dist &&
	expect_error 2 "missing --embeddings FILE" resque measure task -l l.npy &&
	# other usage errors still come first, --help still wins
	expect_error 2 "unknown option" resque commit --nope &&
	expect_success resque commit --help &&
	repo_state >after && compare before after
'

test_expect_success 'make install: man pages and completion under DESTDIR' '
	test -e "$RQ_BUILD/doc/stamp" || { say "no docs in $RQ_BUILD (make all)"; return 1; }
	DEST=$SCRATCH/dest &&
	make -s -C "$RQ_ROOT" -o all BUILD="$RQ_BUILD" DESTDIR="$DEST" PREFIX=/usr/local install \
		>make.out 2>&1 || { cat make.out; return 1; }
	share=$DEST/usr/local/share &&
	test -s "$share/man/man1/resque.1" &&
	test -s "$share/man/man1/resque-plan.1" &&
	test -s "$share/man/man1/resque-key-gen.1" &&
	test -s "$share/bash-completion/completions/resque" &&
	test -s "$share/zsh/site-functions/_resque" &&
	test "$(ls "$share/man/man1" | wc -l)" = "$(ls "$RQ_BUILD/doc/man1" | wc -l)" &&
	cmp "$share/bash-completion/completions/resque" "$RQ_BUILD/doc/bash/resque" &&
	if test_have_prereq MAN; then
		MANWIDTH=80 man -M "$share/man" resque-plan >plan.txt 2>/dev/null &&
		grep -q "^ *resque-plan - " plan.txt &&
		MANWIDTH=80 man -M "$share/man" resque >resque.txt 2>/dev/null &&
		grep -q "resque-commit(1)" resque.txt
	fi
'

test_done
