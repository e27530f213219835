#!/usr/bin/env bash
# Installs moto's S3 server (`moto_server`, PyPI `moto[server]`) into .tools/moto-venv for the
# controller's tests against S3 (tests/cli/serve.rs starts one on a free port and stops it).
# Idempotent, and instant when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=5.2.6
VENV=.tools/moto-venv
STAMP="$VENV/.moto-$VERSION"

if [ ! -x "$VENV/bin/moto_server" ] || [ ! -e "$STAMP" ]; then
    if [ ! -x "$VENV/bin/pip" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --disable-pip-version-check --quiet "moto[server]==$VERSION"
    "$VENV/bin/python" -c 'import moto, boto3' >/dev/null
    touch "$STAMP"
    echo "install-moto: installed moto[server] $VERSION in $VENV" >&2
fi
