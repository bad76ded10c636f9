from importlib.metadata import version

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from . import db
from .models import Post, User

bp = Blueprint("views", __name__)


class CredentialsForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired()])


class PostForm(FlaskForm):
    body = TextAreaField("Message", validators=[DataRequired(), Length(max=2000)])


@bp.route("/", methods=["GET", "POST"])
def index():
    form = PostForm()
    if form.validate_on_submit():
        if not current_user.is_authenticated:
            return redirect(url_for("views.login"))
        db.session.add(Post(body=form.body.data, author=current_user))
        db.session.commit()
        return redirect(url_for("views.index"))
    posts = db.session.scalars(db.select(Post).order_by(Post.id.desc())).all()
    return render_template("index.html", form=form, posts=posts)


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = CredentialsForm()
    if form.validate_on_submit():
        if db.session.scalar(db.select(User).filter_by(username=form.username.data)):
            flash("That name is taken.")
        else:
            user = User(username=form.username.data)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            return redirect(url_for("views.login"))
    return render_template("form.html", form=form, title="Register")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = CredentialsForm()
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).filter_by(username=form.username.data))
        if user is None or not user.check_password(form.password.data):
            flash("Wrong name or password.")
        else:
            login_user(user, remember=True)
            return redirect(url_for("views.index"))
    return render_template("form.html", form=form, title="Log in")


@bp.route("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("views.index"))


@bp.route("/probe")
def probe():
    """The request as the app sees it: what links in mails and redirects are built from."""
    return {
        "scheme": request.scheme,
        "host": request.host,
        "url_root": request.url_root,
        "external_url": url_for("views.index", _external=True),
        "remote_addr": request.remote_addr,
        "flask": version("flask"),
    }
