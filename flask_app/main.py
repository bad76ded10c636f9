"""The web app: a small "hello world", served by gunicorn behind nginx.

gunicorn loads `main:flask_app` (env APP_MODULE) from /srv/app, where this directory is mounted read-only.
SECRET_KEY is read from the file named by env SECRET_KEY_FILE (default /run/secrets/app_secret_key, a podman
secret), never from an environment variable in clear.
"""
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

DEFAULT_SECRET_KEY_FILE = "/run/secrets/app_secret_key"


def load_secret_key() -> str:
    path = os.environ.get("SECRET_KEY_FILE", DEFAULT_SECRET_KEY_FILE)
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise RuntimeError(f"cannot read SECRET_KEY from {path}: {e.strerror}") from None
    if not key:
        raise RuntimeError(f"SECRET_KEY file {path} is empty")
    return key


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = load_secret_key()
    # nginx, the only client of gunicorn, sets one X-Forwarded-For/-Proto/-Host hop.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    @app.get("/")
    def hello():
        return "Hello, World!"

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app


flask_app = create_app()
