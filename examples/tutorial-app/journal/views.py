from flask import Blueprint, redirect, request, url_for

from .db import get_db

bp = Blueprint("views", __name__)


@bp.route("/")
def index():
    entries = get_db().execute("SELECT body FROM entry ORDER BY id").fetchall()
    return {"entries": [e["body"] for e in entries]}


@bp.route("/create", methods=["POST"])
def create():
    db = get_db()
    db.execute("INSERT INTO entry (body) VALUES (?)", (request.form["body"],))
    db.commit()
    return redirect(url_for("views.index"))
