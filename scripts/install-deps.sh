#!/bin/sh
# Install the Debian packages resque needs to build and test, if any are
# missing. As root it runs apt-get; otherwise it prints the exact command.
#   sh scripts/install-deps.sh        build + test packages
#   sh scripts/install-deps.sh fuzz   also clang, its fuzzer and sanitizer
#                                     runtimes and llvm (llvm-symbolizer, for
#                                     the stack traces of sanitizer reports):
#                                     what `make test` (asan, fuzz) needs
#   sh scripts/install-deps.sh lint   also cppcheck (`make lint`)
set -eu

pkgs="gcc g++ make pkg-config git sqlite3 coreutils
libgit2-dev zlib1g-dev libsqlite3-dev libopenblas-dev liblapacke-dev libsodium-dev libjansson-dev
python3 python3-numpy python3-scipy python3-sklearn python3-cryptography python3-torch python3-pytest
python3-dask python3-distributed
chromium fonts-dejavu-core python3-pil strace
openssh-server openssh-client openssl"
case "${1:-}" in
fuzz) pkgs="$pkgs clang libclang-rt-14-dev llvm" ;;
lint) pkgs="$pkgs cppcheck" ;;
"") ;;
*) echo "scripts/install-deps.sh: no set '$1' (fuzz, lint)" >&2 && exit 2 ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "resque needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
