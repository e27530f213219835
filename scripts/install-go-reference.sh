#!/usr/bin/env bash
# Builds bench/go-reference (Go text/template + Sprig, the Go side of the side-by-side
# benchmarks) into .tools/bin/go-reference, offline, from Debian's packages:
#   golang-go (Go 1.19), golang-github-masterminds-sprig-dev (Sprig 3.2.3 and its dependencies),
#   golang-gopkg-yaml.v2-dev.
# Installs missing packages with apt-get (needs root), then builds in GOPATH mode against
# /usr/share/gocode: no module download. The build copies the sources into a temporary GOPATH,
# because Go's "minimal module compatibility" (an import of github.com/Masterminds/sprig/v3
# resolved to Debian's github.com/Masterminds/sprig) only applies to code inside GOPATH that
# has a go.mod.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
SRC="$ROOT/bench/go-reference"
PACKAGES=(golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev)
GOCODE=/usr/share/gocode

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install-go-reference: apt-get install ${missing[*]}" >&2
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

GO=$(command -v go || true)
[[ -n "$GO" ]] || GO=/usr/lib/go/bin/go
[[ -x "$GO" ]] || { echo "install-go-reference: no go binary after installing golang-go" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/go-reference.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
pkg="$tmp/gopath/src/flotilla.invalid/go-reference"
mkdir -p "$pkg" "$TOOLS/bin" "$TOOLS/go-cache"
cp "$SRC"/*.go "$SRC/go.mod" "$pkg/"
(
    cd "$pkg"
    GO111MODULE=off GOPATH="$tmp/gopath:$GOCODE" GOCACHE="$TOOLS/go-cache" GOFLAGS= \
        "$GO" build -trimpath -o "$TOOLS/bin/go-reference.partial" .
)
mv -f "$TOOLS/bin/go-reference.partial" "$TOOLS/bin/go-reference"

# Smoke test: the tiny chart renders.
out=$("$TOOLS/bin/go-reference" -n 0 -print -raw "$SRC/testdata/smoke")
[[ "$out" == "SMOKE: a b "* ]] || { echo "install-go-reference: smoke test failed: $out" >&2; exit 1; }
echo "go-reference: built with $("$GO" version | cut -d' ' -f3) at $TOOLS/bin/go-reference"
