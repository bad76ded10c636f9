"""notes: a small Flask app written the way Flask's tutorial teaches, deployed unmodified by flagun-rosupod.

An application factory (`notes:create_app()`), a blueprint, its SQLite database in Flask's instance
folder, one dependency beyond Flask (humanize), a `flask init-db` command that creates the schema, and no
health route. Configuration comes from the environment: GREETING (plain) and API_TOKEN (a secret).
"""
import os

from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev"),
        DATABASE=os.path.join(app.instance_path, "notes.sqlite"),
        GREETING=os.environ.get("GREETING", "Notes"),
    )
    key_file = os.environ.get("SECRET_KEY_FILE")
    if key_file and os.path.exists(key_file):
        with open(key_file, encoding="utf-8") as f:
            app.config["SECRET_KEY"] = f.read().strip()
    if test_config is None:
        # Instance config, if the operator put one there (it survives deploys like the database).
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from . import db, views

    db.init_app(app)
    app.register_blueprint(views.bp)
    return app
