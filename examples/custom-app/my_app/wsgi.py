"""A custom app deployed with examples/custom-app.yaml: gunicorn serves `wsgi:application`."""
import os

from flask import Flask

application = Flask(__name__)
with open(os.environ.get("SECRET_KEY_FILE", "/run/secrets/app_secret_key"), encoding="utf-8") as f:
    application.config["SECRET_KEY"] = f.read().strip()


@application.get("/")
def index() -> str:
    return "Hello from a custom app!"
