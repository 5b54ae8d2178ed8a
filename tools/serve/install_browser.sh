#!/usr/bin/env bash
# Headless Chromium + chromedriver from Debian and selenium from pip, for tests/test_serve_browser.py.
# Idempotent: does nothing when both binaries and selenium are present.
set -euo pipefail
if ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-dejavu-core >/dev/null
fi
python -c "import selenium" 2>/dev/null || pip install -q "selenium>=4.10"
chromium --version
