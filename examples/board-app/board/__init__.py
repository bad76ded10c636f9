"""board: a message board written the way Flask-WTF, Flask-Login and Flask-Migrate apps are, deployed unmodified.

An application factory (`board:create_app()`), SQLAlchemy models with Alembic migrations (`flask db upgrade`),
CSRF-protected forms, registration and login, and its database wherever DATABASE_URL says (the deployer's
appEnv points it into Flask's instance folder). SECRET_KEY comes from the environment (an app secret).
It pins its own Flask (requirements.txt). `/probe` shows the request as the app sees it behind the proxy.
"""
import os

from flask import Flask
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

db = SQLAlchemy()
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev"),
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", "sqlite:///" + os.path.join(app.instance_path, "board.sqlite")),
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db)
    login.init_app(app)
    login.login_view = "views.login"
    csrf.init_app(app)

    from . import views

    app.register_blueprint(views.bp)
    return app
