# Shared helpers for the repo's shell scripts (sourced, not executed).
# Everything expensive is cached under $FLAGUN_CACHE, outside the repo, keyed by version or content.
FLAGUN_CACHE="${FLAGUN_CACHE:-$HOME/.cache/flagun-rosupod}"
export FLAGUN_CACHE
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# step NAME CMD...: run one named step, print how long it took, name it when it fails.
step() {
  local name="$1"; shift
  local t0=$SECONDS
  log "==> $name"
  if "$@"; then
    log "<== $name ok ($((SECONDS - t0)) s)"
  else
    local rc=$?
    log "<== $name FAILED after $((SECONDS - t0)) s (exit $rc)"
    return "$rc"
  fi
}
