# The pulumi CLI, its nodejs language host and the command/tls/random resource plugins, at the versions
# the installed SDKs expect (node_modules/@pulumi/*/package.json). All are compiled Go binaries, the
# official ones or built from source. For each piece, in order:
#   1. already in $FLAGUN_CACHE/tools at that version -> link it (warm setup costs nothing);
#   2. what real users get: the official release download (the CLI's tarball carries the language host);
#   3. for machines that reach only package registries (see docs/toolchain.md):
#      - the CLI, and the tls/random plugins, built from the Go module proxy (scripts/toolchain/go/*);
#      - the command plugin and the language host, whose modules the proxy refuses, built from their
#        unmodified upstream source archives (scripts/toolchain/upstream/build.sh; archives in
#        $FLAGUN_UPSTREAM_SRC, default ../shared/upstream next to the project; sha256 pinned);
#   4. otherwise a clear error naming what is missing.

sdk_version() { "$NODE_BIN/node" -p "require('$REPO_ROOT/node_modules/$1/package.json')$2"; }

TOOLS="$FLAGUN_CACHE/tools"
OFFICIAL_TIMEOUT="${FLAGUN_OFFICIAL_TIMEOUT:-20}"
UPSTREAM_SRC="${FLAGUN_UPSTREAM_SRC:-$REPO_ROOT/../shared/upstream}"
UPSTREAM_SUMS="$REPO_ROOT/scripts/toolchain/upstream/SHA256SUMS"

link_bin() { ln -sfn "$1" "$FLAGUN_CACHE/bin/$(basename "$1")"; }
go_caches() { export GOMODCACHE="$FLAGUN_CACHE/go/mod" GOCACHE="$FLAGUN_CACHE/go/build"; }

# fetch_official URL DIR: unpack an official release tarball into DIR; false when unreachable.
fetch_official() {
  curl -fsSL --max-time "$OFFICIAL_TIMEOUT" "$1" 2>/dev/null | tar xz -C "$2" "${@:3}" 2>/dev/null
}

# The version a pinned upstream archive carries (its name), e.g. `pinned_upstream_version pulumi-language-nodejs-v`.
pinned_upstream_version() {
  awk -v p="$1" 'index($2, p) == 1 {v = substr($2, length(p) + 1); sub(/(-provider)?\.tar\.gz$/, "", v); print v}' "$UPSTREAM_SUMS"
}

# build_upstream command|language-nodejs OUT_DIR: build from the upstream source archive, or explain why not.
build_upstream() {
  local what="$1" out="$2"
  if [ ! -d "$UPSTREAM_SRC" ]; then
    log "$what: no upstream source directory at $UPSTREAM_SRC (set FLAGUN_UPSTREAM_SRC to the directory holding the archives of $UPSTREAM_SUMS)"
    return 1
  fi
  log "$what: official download unreachable; building from the upstream source in $UPSTREAM_SRC (minutes, once)"
  local t0=$SECONDS
  go_caches
  bash "$REPO_ROOT/scripts/toolchain/upstream/build.sh" "$what" "$UPSTREAM_SRC" "$out" >/dev/null || return 1
  log "$what built from upstream source in $((SECONDS - t0)) s"
}

install_cli() {
  local v; v="$(sdk_version @pulumi/pulumi .version)"
  local dir="$TOOLS/pulumi-$v"
  if [ ! -x "$dir/pulumi" ]; then
    local tmp="$dir.partial"; rm -rf "$tmp"; mkdir -p "$tmp"
    if fetch_official "https://get.pulumi.com/releases/sdk/pulumi-v$v-linux-x64.tar.gz" "$tmp" --strip-components=1 && [ -x "$tmp/pulumi" ]; then
      log "pulumi $v: official release"
    else
      log "pulumi $v: official download unreachable; building from the Go module proxy (minutes, once)"
      [ "$(cat "$REPO_ROOT/scripts/toolchain/go/pulumi/VERSION")" = "$v" ] \
        || die "scripts/toolchain/go/pulumi/VERSION does not match @pulumi/pulumi $v: update the wrapper module"
      local t0=$SECONDS
      go_caches
      bash "$REPO_ROOT/scripts/toolchain/go/pulumi/build.sh" "$tmp" || die "building the pulumi CLI failed (see above)"
      log "pulumi $v built in $((SECONDS - t0)) s"
    fi
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  link_bin "$dir/pulumi"
  install_language_host "$dir"
}

# The official CLI release carries the language host next to the CLI; a CLI built from Go modules does not.
install_language_host() {
  local cli_dir="$1"
  if [ -x "$cli_dir/pulumi-language-nodejs" ]; then link_bin "$cli_dir/pulumi-language-nodejs"; return 0; fi
  local v; v="$(pinned_upstream_version pulumi-language-nodejs-v)"
  [ -n "$v" ] || die "no pulumi-language-nodejs archive pinned in $UPSTREAM_SUMS"
  local dir="$TOOLS/pulumi-language-nodejs-$v"
  if [ ! -x "$dir/pulumi-language-nodejs" ]; then
    local tmp="$dir.partial"; rm -rf "$tmp"; mkdir -p "$tmp"
    build_upstream language-nodejs "$tmp" \
      || die "pulumi-language-nodejs: the official release is unreachable and it could not be built from upstream source (see above)"
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  link_bin "$dir/pulumi-language-nodejs"
}

install_plugin() {
  local name="$1" v; v="$(sdk_version "@pulumi/$name" .pulumi.version)"
  local dir="$TOOLS/pulumi-resource-$name-$v"
  if [ ! -x "$dir/pulumi-resource-$name" ]; then
    local tmp="$dir.partial"; rm -rf "$tmp"; mkdir -p "$tmp"
    if fetch_official "https://get.pulumi.com/releases/plugins/pulumi-resource-$name-v$v-linux-amd64.tar.gz" "$tmp" && [ -x "$tmp/pulumi-resource-$name" ]; then
      log "plugin $name $v: official release"
    elif [ "$name" = command ]; then
      [ "$(pinned_upstream_version pulumi-command-v)" = "$v" ] \
        || die "plugin command $v: official download unreachable and $UPSTREAM_SUMS pins no source archive of that version"
      build_upstream command "$tmp" || die "plugin command $v: official download unreachable and the upstream source build failed (see above)"
    else
      build_plugin "$name" "$v" "$tmp" || die "plugin $name $v: official download unreachable and the Go module build failed (see above)"
    fi
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  link_bin "$dir/pulumi-resource-$name"
}

# Build a plugin from its wrapper module in scripts/toolchain/go/NAME (minutes, once per version).
build_plugin() {
  local name="$1" v="$2" out="$3"
  [ "$(cat "$REPO_ROOT/scripts/toolchain/go/$name/VERSION")" = "$v" ] || { log "plugin $name: wrapper VERSION is not $v"; return 1; }
  log "plugin $name $v: official download unreachable; building from the Go module proxy (minutes, once)"
  local t0=$SECONDS
  go_caches
  bash "$REPO_ROOT/scripts/toolchain/go/build-provider.sh" "$name" "$out" || { log "plugin $name: Go build failed"; return 1; }
  log "plugin $name $v built in $((SECONDS - t0)) s"
}

# Dynamic providers (components/hostState.ts) run in the `pulumi-nodejs` plugin: a launcher script that
# @pulumi/pulumi ships (the official CLI release carries the same one); a CLI built from Go modules lacks it. Copied,
# not linked: it only starts the SDK's provider found from the program's directory, so any checkout's serves.
install_dynamic_provider() {
  install -m 0755 "$REPO_ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$FLAGUN_CACHE/bin/pulumi-resource-pulumi-nodejs"
}

ensure_pulumi_toolchain() {
  mkdir -p "$TOOLS" "$FLAGUN_CACHE/bin"
  install_cli
  local p; for p in command tls random; do install_plugin "$p"; done
  install_dynamic_provider
  # Every piece must be a compiled binary: a script here would mean a re-implementation crept back in.
  local b; for b in pulumi pulumi-language-nodejs pulumi-resource-command pulumi-resource-tls pulumi-resource-random; do
    head -c 4 "$FLAGUN_CACHE/bin/$b" | grep -q $'^\x7fELF' || die "$FLAGUN_CACHE/bin/$b is not a compiled binary"
  done
  "$FLAGUN_CACHE/bin/pulumi" version >/dev/null || die "pulumi does not run"
  log "pulumi $("$FLAGUN_CACHE/bin/pulumi" version)"
}
