#!/usr/bin/env bash
# Build the pulumi CLI from the Go module proxy into OUT_DIR, version embedded as the release does.
set -euo pipefail
out="${1:?usage: build.sh OUT_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
version="v$(cat "$here/VERSION")"
command -v go >/dev/null || { echo "go not found: install Go >= 1.26 to build the pulumi CLI from source" >&2; exit 1; }
export GOMODCACHE="${GOMODCACHE:-$HOME/.cache/flagun-rosupod/go/mod}" GOCACHE="${GOCACHE:-$HOME/.cache/flagun-rosupod/go/build}"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
cd "$here"
go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
  -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
