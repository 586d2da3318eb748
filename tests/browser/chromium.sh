#!/bin/sh
# Run Debian's headless Chromium ($CHROMIUM, default chromium) offline for
# t0860: every network request goes to a closed port and every host name
# fails to resolve, and the browser's own background services (updates,
# sync, spelling dictionaries, safe browsing) are switched off so the
# NetLog shows only what the page asked for. CI runs as root, hence
# --no-sandbox; a fresh profile per run.
#   sh tests/browser/chromium.sh PROFILE-DIR [CHROMIUM-FLAGS...] URL
set -u
profile=$1
shift
rm -rf "$profile"
exec timeout 120 "${CHROMIUM:-chromium}" --headless --no-sandbox --disable-gpu --no-first-run \
	--no-default-browser-check --disable-background-networking --disable-component-update \
	--disable-sync --disable-default-apps --disable-extensions \
	--disable-client-side-phishing-detection --disable-domain-reliability \
	--disable-features=SpellCheck,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication \
	--metrics-recording-only --hide-scrollbars --force-device-scale-factor=1 \
	--proxy-server=127.0.0.1:9 "--host-resolver-rules=MAP * ~NOTFOUND" \
	--user-data-dir="$profile" "$@"
