#!/usr/bin/env bash
# Build one of the two official Pulumi plugins whose Go modules the Go module proxy refuses, from its
# unmodified upstream source release (dependencies from the proxy), with the version embedded as the
# upstream release build does. The archive's sha256 must match the one pinned in SHA256SUMS next to
# this script: an archive we have not pinned is never built.
# Usage: build.sh command|language-nodejs ARCHIVE_DIR OUT_DIR     (prints the version it built)
set -euo pipefail
what="${1:?usage: build.sh command|language-nodejs ARCHIVE_DIR OUT_DIR}" src_dir="${2:?}" out="${3:?}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fail() { echo "upstream/build.sh ($what): $*" >&2; exit 1; }
command -v go >/dev/null || fail "go not found on PATH (Go >= 1.25 builds the plugin from source)"

case "$what" in
  command) prefix="pulumi-command-v" suffix="-provider.tar.gz" ;;
  language-nodejs) prefix="pulumi-language-nodejs-v" suffix=".tar.gz" ;;
  *) fail "unknown plugin (expected command or language-nodejs)" ;;
esac
# The pinned archive of this plugin, and the version its name carries.
archive_name="$(awk -v p="$prefix" 'index($2, p) == 1 {print $2}' "$here/SHA256SUMS")"
[ -n "$archive_name" ] || fail "no archive pinned in $here/SHA256SUMS"
version="${archive_name#"$prefix"}"; version="${version%"$suffix"}"
archive="$src_dir/$archive_name"
[ -f "$archive" ] || fail "$archive not found (set FLAGUN_UPSTREAM_SRC to the directory holding it)"
want="$(awk -v f="$archive_name" '$2 == f {print $1}' "$here/SHA256SUMS")"
got="$(sha256sum "$archive" | cut -c1-64)"
[ "$got" = "$want" ] || fail "$archive has sha256 $got, pinned $want: refusing to build it"

export GOMODCACHE="${GOMODCACHE:-$HOME/.cache/flagun-rosupod/go/mod}" GOCACHE="${GOCACHE:-$HOME/.cache/flagun-rosupod/go/build}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
tar xzf "$archive" -C "$work" --strip-components=1
mkdir -p "$out"
case "$what" in
  command)
    cd "$work/provider"
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$version" \
      -o "$out/pulumi-resource-command" ./cmd/pulumi-resource-command
    ;;
  language-nodejs)
    cd "$work/sdk/nodejs/cmd/pulumi-language-nodejs"
    # Upstream's go.mod points pkg/v3 and sdk/v3 at the monorepo checkout (relative replaces); the
    # archive holds only this folder, so take both from the Go module proxy at the same release.
    go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
      -require "github.com/pulumi/pulumi/pkg/v3@v$version" -require "github.com/pulumi/pulumi/sdk/v3@v$version"
    GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
      -o "$out/pulumi-language-nodejs" .
    ;;
esac
echo "$version"
