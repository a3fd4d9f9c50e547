#!/usr/bin/env bash
# Install everything the tests need (Debian's Chromium for the browser test, the package with its
# test extras), check the types (mypy over kg/ and embeddings/, configured in pyproject.toml) and run the
# whole suite (the layer contracts are in it: tests/test_architecture.py). This is the README's test command
# and what CI runs; arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then APT=(apt-get); else APT=(sudo apt-get); fi
  "${APT[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq chromium
fi
pip install -e '.[test]'
python -m mypy
python -m pytest "$@"
