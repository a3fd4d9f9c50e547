#!/usr/bin/env bash
# Install everything the tests need (Debian's Chromium for the browser test, the package with its
# test extras) and run the whole suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then APT=(apt-get); else APT=(sudo apt-get); fi
  "${APT[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq chromium
fi
pip install -e '.[test]'
python -m pytest "$@"
