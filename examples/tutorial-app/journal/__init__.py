"""journal: shaped like Flask's tutorial app (flaskr), for the first deploy of a database app.

`/` queries the `entry` table, which exists only after `flask init-db` (it answers 500 before, as flaskr
does); `init-db` drops and recreates the schema, so it must run once, before the first deploy serves, and
never over data: the deployer's `initCommand`. No requirements beyond Flask.
"""
import os

from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY=os.environ.get("SECRET_KEY", "dev"), DATABASE=os.path.join(app.instance_path, "journal.sqlite"))
    if test_config is not None:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from . import db, views

    db.init_app(app)
    app.register_blueprint(views.bp)
    return app
