#!/bin/sh
# Image build step (COPYed to /usr/local/lib/flagun-build/): installs the app's requirements.txt into the
# venv, with the project's pinned requirements as constraints (the pins win). Nothing to do when the file
# holds no requirement. pip runs as container/build/pip.sh says: it is in no layer.
# Usage: app-requirements.sh APP_REQUIREMENTS PROJECT_PINS
set -eu
app_req=$1
pins=$2
if ! grep -qvE '^[[:space:]]*(#|$)' "$app_req"; then
  echo "app-requirements: the app has no requirements.txt (or an empty one): nothing to install"
  exit 0
fi
. /usr/local/lib/flagun-build/pip.sh
if ! build_pip install --no-cache-dir -r "$app_req" -c "$pins"; then
  echo "app-requirements: the app's requirements.txt cannot be installed together with the project's pins ($(grep -vE '^[[:space:]]*(#|$)' "$pins" | tr '\n' ' ')): pip names the conflicting package above; loosen the app's requirement or change config/requirements.txt" >&2
  exit 1
fi
build_pip check
build_pip_done
echo "app-requirements: installed $(grep -cvE '^[[:space:]]*(#|$)' "$app_req") requirement line(s) of the app"
