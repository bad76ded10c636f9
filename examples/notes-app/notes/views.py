"""The notes blueprint: list and add notes; /about shows the settings the deployment gave the app."""
import hashlib
import os
from datetime import datetime, timezone

import humanize
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from .db import get_db

bp = Blueprint("notes", __name__)


@bp.get("/")
def index():
    notes = get_db().execute("SELECT id, created, body FROM note ORDER BY id").fetchall()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return render_template("index.html", greeting=current_app.config["GREETING"], notes=notes, ago=lambda t: humanize.naturaltime(now - t))


@bp.post("/notes")
def add():
    body = request.form.get("body", "").strip()
    if not body:
        return "a note needs a body", 400
    db = get_db()
    db.execute("INSERT INTO note (body) VALUES (?)", (body,))
    db.commit()
    return redirect(url_for("notes.index"))


@bp.get("/notes.json")
def notes_json():
    rows = get_db().execute("SELECT id, body FROM note ORDER BY id").fetchall()
    return jsonify([dict(r) for r in rows])


@bp.get("/about")
def about():
    token = os.environ.get("API_TOKEN", "")
    return jsonify(
        greeting=current_app.config["GREETING"],
        humanize=humanize.__version__,
        # Proves the secret arrived without showing it.
        api_token_sha256=hashlib.sha256(token.encode()).hexdigest() if token else None,
        instance_path=current_app.instance_path,
    )
