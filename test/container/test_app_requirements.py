"""container/build/app-requirements.sh as the image build runs it (with this venv's Python): the app's pins are
installed as they are, except a gunicorn older than the deployer supports, refused with pip's message."""
import os
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "container" / "build" / "app-requirements.sh"


def run(tmp_path, requirements):
    req = tmp_path / "requirements.txt"
    req.write_text(requirements)
    env = {**os.environ, "VENV_PYTHON": sys.executable}
    return subprocess.run(["sh", str(SCRIPT), str(req)], env=env, capture_output=True, text=True, timeout=300)


def test_an_app_without_requirements_installs_nothing(tmp_path):
    r = run(tmp_path, "# nothing\n\n")
    assert r.returncode == 0
    assert "nothing to install" in r.stdout


def test_a_gunicorn_older_than_supported_fails_the_build_with_pips_message(tmp_path):
    r = run(tmp_path, "gunicorn==20.1.0\n")
    assert r.returncode == 1
    assert "The user requested gunicorn==20.1.0" in r.stdout + r.stderr
    assert "The user requested (constraint) gunicorn>=23.0.0" in r.stdout + r.stderr
    assert "the deployer needs gunicorn >= 23.0.0" in r.stderr
