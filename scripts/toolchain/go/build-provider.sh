#!/usr/bin/env bash
# Build pulumi-resource-<name> from its wrapper module scripts/toolchain/go/<name> (version = its
# VERSION file) into OUT_DIR.
# Usage: build-provider.sh NAME OUT_DIR
# Uses the caller's GOMODCACHE/GOCACHE (scripts/toolchain/pulumi.sh exports them); standalone it
# defaults to the project's cache under ~/.cache/flagun-rosupod/go.
set -euo pipefail
name="${1:?usage: build-provider.sh NAME OUT_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/$name" && pwd)"
fail() { echo "build-provider.sh ($name): $*" >&2; exit 1; }

[ $# -eq 2 ] && [ -n "$2" ] || fail "usage: $0 NAME OUT_DIR"
out="$2"
command -v go >/dev/null || fail "go not found on PATH"
version="$(tr -d ' \n' <"$here/VERSION")" || fail "cannot read $here/VERSION"
[ -n "$version" ] || fail "$here/VERSION is empty"
mkdir -p "$out" || fail "cannot create OUT_DIR $out"
out="$(cd "$out" && pwd)"

export GOMODCACHE="${GOMODCACHE:-$HOME/.cache/flagun-rosupod/go/mod}"
export GOCACHE="${GOCACHE:-$HOME/.cache/flagun-rosupod/go/build}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0
# go.sum is committed: never let the build rewrite go.mod/go.sum.
export GOFLAGS="-mod=readonly ${GOFLAGS:-}"

bin="pulumi-resource-$name"
# Same mechanism as upstream's Makefile: -X <module>/pkg/version.Version=<version without "v">.
ldflags="-s -w -X flagun-rosupod/toolchain/$name/pkg/version.Version=$version"

cd "$here"
go mod download || fail "go mod download failed (Go module proxy unreachable?)"
go build -trimpath -ldflags "$ldflags" -o "$out/$bin.tmp" . || fail "go build of $bin $version failed"
got="$("$out/$bin.tmp" -version 2>/dev/null | tr -d '\n')" || fail "$bin -version did not run"
[ "$got" = "$version" ] || fail "built $bin reports version '$got', expected '$version'"
mv -f "$out/$bin.tmp" "$out/$bin"
echo "built $out/$bin $version"
