# The pulumi CLI, its nodejs language host and the command/tls/random resource plugins, at the versions
# the installed SDKs expect (node_modules/@pulumi/*/package.json). For each piece, in order:
#   1. already in $FLAGUN_CACHE/tools at that version -> link it (warm setup costs nothing);
#   2. what real users get: the official installer / `pulumi plugin install`;
#   3. fallbacks for machines that reach neither (see README "Toolchain"): the CLI and the tls/random
#      plugins built from the Go module proxy (scripts/toolchain/go/*); the language host and any
#      plugin without a Go build (command) as Node programs in scripts/toolchain/fallback.

sdk_version() { "$NODE_BIN/node" -p "require('$REPO_ROOT/node_modules/$1/package.json')$2"; }

TOOLS="$FLAGUN_CACHE/tools"
OFFICIAL_TIMEOUT="${FLAGUN_OFFICIAL_TIMEOUT:-20}"

link_bin() { ln -sfn "$1" "$FLAGUN_CACHE/bin/$(basename "$1")"; }

install_cli() {
  local v; v="$(sdk_version @pulumi/pulumi .version)"
  local dir="$TOOLS/pulumi-$v"
  if [ ! -x "$dir/pulumi" ]; then
    local tmp="$dir.partial"; rm -rf "$tmp"; mkdir -p "$tmp"
    if curl -fsSL --max-time "$OFFICIAL_TIMEOUT" https://get.pulumi.com/releases/sdk/pulumi-v$v-linux-x64.tar.gz 2>/dev/null | tar xz -C "$tmp" --strip-components=1 2>/dev/null && [ -x "$tmp/pulumi" ]; then
      log "pulumi $v: official release"
    else
      log "pulumi $v: official download unreachable; building from the Go module proxy (minutes, once)"
      [ "$(cat "$REPO_ROOT/scripts/toolchain/go/pulumi/VERSION")" = "$v" ] \
        || die "scripts/toolchain/go/pulumi/VERSION does not match @pulumi/pulumi $v: update the wrapper module"
      local t0=$SECONDS
      export GOMODCACHE="$FLAGUN_CACHE/go/mod" GOCACHE="$FLAGUN_CACHE/go/build"
      bash "$REPO_ROOT/scripts/toolchain/go/pulumi/build.sh" "$tmp" || die "building the pulumi CLI failed (see above)"
      log "pulumi $v built in $((SECONDS - t0)) s"
    fi
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  link_bin "$dir/pulumi"
  # The official release carries the language hosts next to the CLI.
  if [ -x "$dir/pulumi-language-nodejs" ]; then link_bin "$dir/pulumi-language-nodejs"; else install_fallback pulumi-language-nodejs languageHost.js; fi
}

# A small wrapper that runs one of the Node fallbacks with this machine's Node.
install_fallback() {
  local name="$1" script="$2"; shift 2
  local w="$FLAGUN_CACHE/bin/$name"
  rm -f "$w"
  printf '#!/bin/sh\n# flagun-rosupod fallback (scripts/toolchain/fallback): the official %s could not be installed here.\nexec "%s" "%s" %s "$@"\n' \
    "$name" "$NODE_BIN/node" "$REPO_ROOT/dist/scripts/toolchain/fallback/$script" "$*" > "$w"
  chmod +x "$w"
}

install_plugin() {
  local name="$1" v; v="$(sdk_version "@pulumi/$name" .pulumi.version)"
  local dir="$TOOLS/pulumi-resource-$name-$v"
  if [ ! -x "$dir/pulumi-resource-$name" ]; then
    local tmp="$dir.partial"; rm -rf "$tmp"; mkdir -p "$tmp"
    if curl -fsSL --max-time "$OFFICIAL_TIMEOUT" "https://get.pulumi.com/releases/plugins/pulumi-resource-$name-v$v-linux-amd64.tar.gz" 2>/dev/null | tar xz -C "$tmp" 2>/dev/null && [ -x "$tmp/pulumi-resource-$name" ]; then
      rm -rf "$dir"; mv "$tmp" "$dir"
      log "plugin $name $v: official release"
    elif [ -f "$REPO_ROOT/scripts/toolchain/go/$name/VERSION" ] && build_plugin "$name" "$v" "$tmp"; then
      rm -rf "$dir"; mv "$tmp" "$dir"
    else
      rm -rf "$tmp"
      log "plugin $name $v: official download unreachable and no Go build here; using the Node fallback"
      install_fallback "pulumi-resource-$name" provider.js "$name"
      return 0
    fi
  fi
  link_bin "$dir/pulumi-resource-$name"
}

# Build a plugin from its wrapper module in scripts/toolchain/go/NAME (minutes, once per version).
build_plugin() {
  local name="$1" v="$2" out="$3"
  [ "$(cat "$REPO_ROOT/scripts/toolchain/go/$name/VERSION")" = "$v" ] || { log "plugin $name: wrapper VERSION is not $v; skipping the Go build"; return 1; }
  log "plugin $name $v: official download unreachable; building from the Go module proxy (minutes, once)"
  local t0=$SECONDS
  GOMODCACHE="$FLAGUN_CACHE/go/mod" GOCACHE="$FLAGUN_CACHE/go/build" bash "$REPO_ROOT/scripts/toolchain/go/build-provider.sh" "$name" "$out" || { log "plugin $name: Go build failed"; return 1; }
  log "plugin $name $v built in $((SECONDS - t0)) s"
}

ensure_pulumi_toolchain() {
  mkdir -p "$TOOLS" "$FLAGUN_CACHE/bin"
  # The fallbacks run from dist/: compile them first (incremental, seconds).
  (cd "$REPO_ROOT" && "$NODE_BIN/node" node_modules/typescript/bin/tsc -p .) || die "compiling the project (tsc) failed"
  install_cli
  local p; for p in command tls random; do install_plugin "$p"; done
  "$FLAGUN_CACHE/bin/pulumi" version >/dev/null || die "pulumi does not run"
  log "pulumi $("$FLAGUN_CACHE/bin/pulumi" version)"
}
