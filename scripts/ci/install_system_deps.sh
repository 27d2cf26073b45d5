#!/usr/bin/env bash
# Debian packages the test suite needs: graphviz (`--dag | dot`), chromium (the HTML report
# renders in a headless browser), slurm-wlm + munge (the local SLURM cluster test),
# libreoffice-calc-nogui (the workbook is opened and read back by LibreOffice).
# Idempotent and quick when everything is present; needs root (CI runs as root). Without
# root it says what is missing and leaves the tests that need it to say so too.
set -euo pipefail
want=(graphviz chromium slurm-wlm munge libreoffice-calc-nogui)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install_system_deps: not root; missing Debian packages: ${missing[*]} (tests needing them will fail)" >&2
  exit 0
fi
echo "install_system_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
