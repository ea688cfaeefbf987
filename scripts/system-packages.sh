#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, once: Chromium (browser tests drive it
# headless through Playwright), CJK fonts (PDF documents embed them; nothing is fetched at run time) and gettext
# (xgettext: a test regenerates the message catalogue to find interface text missing from the English one).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xgettext >/dev/null 2>&1 || need+=(gettext)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
# Rare CJK Extension B characters in names (e.g. U+20BB7) are drawn from HanaMinB, a TrueType font reportlab can embed.
[ -e /usr/share/fonts/truetype/hanazono/HanaMinB.ttf ] || need+=(fonts-hanazono)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "Please install: ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
