#!/usr/bin/env bash
# Debian packages the test suite needs: Mosquitto (a real broker), Chromium (the pages,
# driven by Playwright — never a browser download), a CJK font, socat (virtual serial pairs).
# Installs only what is missing; needs root (or sudo) for apt-get.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi -E 'wqy|noto sans cjk' || need+=(fonts-wqy-microhei)
command -v socat >/dev/null 2>&1 || need+=(socat)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
