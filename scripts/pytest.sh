#!/usr/bin/env bash
# Runs the Flask app's tests (flask_app/tests) and the container config's (test/container) with pytest in a venv that has config/requirements.txt
# (flask, gunicorn) and pytest. The venv is cached under
#   ${FLAGUN_CACHE:-~/.cache/flagun-rosupod}/pyvenv-<hash of requirements.txt + pytest version>
# and reused; created with python3's venv module when missing. Extra arguments go to pytest.
# Exit status: pytest's.
set -euo pipefail

PYTEST_VERSION=9.2.0
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
req=$repo/config/requirements.txt
cache_root=${FLAGUN_CACHE:-$HOME/.cache/flagun-rosupod}
hash=$({ cat "$req"; echo "pytest==$PYTEST_VERSION"; python3 -c 'import sys; print(sys.version_info[:2])'; } | sha256sum | cut -c1-16)
venv=$cache_root/pyvenv-$hash

# A TLS-inspecting proxy's CA (this machine's SSL_CERT_FILE) must be trusted by pip too.
if [ -z "${PIP_CERT:-}" ] && [ -n "${SSL_CERT_FILE:-}" ] && [ -s "$SSL_CERT_FILE" ]; then export PIP_CERT=$SSL_CERT_FILE; fi

if [ ! -f "$venv/.complete" ]; then
  mkdir -p "$cache_root"
  exec 9>"$venv.lock"
  flock 9
  if [ ! -f "$venv/.complete" ]; then
    echo "pytest.sh: creating $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r "$req" "pytest==$PYTEST_VERSION" >&2
    touch "$venv/.complete"
  fi
  exec 9>&-
fi

cd "$repo"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$repo/flask_app/tests" "$repo/test/container" "$@"
