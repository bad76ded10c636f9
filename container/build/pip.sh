#!/bin/sh
# Sourced by the image build's pip steps (after /opt/venv exists): `build_pip ARGS...` runs pip for the venv,
# and `build_pip_done` ends the step. pip runs from the wheel the interpreter ships for ensurepip (Debian:
# /usr/share/python-wheels; python.org builds: ensurepip/_bundled), never installed into the venv:
# installing it with ensurepip byte-compiles all of pip (about 40 s on an emulated host) only for the step to
# remove it again. Without such a wheel, ensurepip installs pip and build_pip_done removes it: pip is in no
# layer either way.
VENV_PYTHON=${VENV_PYTHON:-/opt/venv/bin/python}
PIP_WHEEL=$("$VENV_PYTHON" -c '
import glob, os, ensurepip
found = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")) + glob.glob("/usr/share/python-wheels/pip-*.whl")
print(found[0] if found else "")')
if [ -n "$PIP_WHEEL" ]; then
  build_pip() { "$VENV_PYTHON" "$PIP_WHEEL/pip" --disable-pip-version-check --no-input "$@"; }
  build_pip_done() { :; }
else
  "$VENV_PYTHON" -m ensurepip --default-pip >/dev/null
  build_pip() { "$VENV_PYTHON" -m pip --disable-pip-version-check --no-input "$@"; }
  build_pip_done() { build_pip uninstall --yes pip >/dev/null; }
fi
