#!/bin/sh
# Image build step (COPYed to /usr/local/lib/flagun-build/): installs the app's requirements.txt into the
# venv. The app owns its dependencies: its pins win over the project's (config/requirements.txt, installed in
# the layer before: what an app that pins nothing gets), whatever they are: its Flask, Werkzeug, gunicorn.
# The one constraint is the oldest gunicorn the deployer supports (below): an app pinning an older one fails
# the build with pip's own message. Nothing to do when the file holds no requirement. pip runs as
# pip.sh (beside this file) says: it is in no layer.
# Usage: app-requirements.sh APP_REQUIREMENTS
set -eu
# gunicorn 23.0.0 fixed the last known request-smuggling flaws (CVE-2024-1135, CVE-2024-6827); the config
# templates (config/gunicorn.conf.py.tmpl: post_worker_init, gthread, worker_tmp_dir) work from there on.
MIN_GUNICORN=23.0.0
app_req=$1
if ! grep -qvE '^[[:space:]]*(#|$)' "$app_req"; then
  echo "app-requirements: the app has no requirements.txt (or an empty one): nothing to install"
  exit 0
fi
. "$(dirname "$0")/pip.sh"
constraints=$(mktemp)
echo "gunicorn>=$MIN_GUNICORN" >"$constraints"
if ! build_pip install --no-cache-dir -r "$app_req" -c "$constraints"; then
  rm -f "$constraints"
  echo "app-requirements: the app's requirements.txt cannot be installed: pip says why above (the deployer needs gunicorn >= $MIN_GUNICORN)" >&2
  exit 1
fi
rm -f "$constraints"
build_pip check
build_pip_done
echo "app-requirements: installed $(grep -cvE '^[[:space:]]*(#|$)' "$app_req") requirement line(s) of the app; serving with $("$VENV_PYTHON" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ("flask", "werkzeug", "gunicorn")))')"
