"""config/gunicorn.conf.py.tmpl's worker hook, run as gunicorn runs it: the rendered file executed as a module,
post_worker_init on a worker holding a real Flask app, requests with the headers nginx.conf.tmpl sends."""
import pathlib
import re
import runpy

import flask
import pytest
from werkzeug.test import Client

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py.tmpl"


def rendered_conf(tmp_path, hops=1, max_length=10 * 1024 * 1024):
    values = {"WORKERS": "2", "THREADS": "1", "TIMEOUT": "30", "PROXY_HOPS": str(hops), "MAX_CONTENT_LENGTH": str(max_length)}
    text = re.sub(r"\{\{([A-Z0-9_]+)\}\}", lambda m: values[m.group(1)], TEMPLATE.read_text())
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(text)
    return runpy.run_path(str(path))


def probe_app(**config):
    app = flask.Flask("probe")
    app.config.update(config)

    @app.route("/probe")
    def probe():
        return "|".join([flask.request.scheme, flask.request.host, flask.url_for("probe", _external=True), flask.request.remote_addr])

    @app.route("/login", methods=["GET", "POST"])
    def login():
        flask.session["user"] = flask.request.form.get("user", "u")
        return "ok"

    return app


class Worker:
    def __init__(self, wsgi):
        self.wsgi = wsgi


def serve(conf, app):
    worker = Worker(app)
    conf["post_worker_init"](worker)
    # As gunicorn sees a request from nginx: the peer is 127.0.0.1, the scheme http.
    return Client(worker.wsgi), app


def nginx_headers(client_host, client_ip, proto="https", incoming=None):
    """What nginx.conf.tmpl sends: each X-Forwarded-* is the incoming one (if any) with this hop appended."""
    incoming = incoming or {}
    join = lambda name, ours: f"{incoming[name]}, {ours}" if name in incoming else ours
    return {
        "Host": client_host.split(":")[0],
        "X-Forwarded-For": join("X-Forwarded-For", client_ip),
        "X-Forwarded-Proto": join("X-Forwarded-Proto", proto),
        "X-Forwarded-Host": join("X-Forwarded-Host", client_host),
    }


def test_the_app_sees_the_clients_scheme_host_with_port_and_address(tmp_path):
    client, _ = serve(rendered_conf(tmp_path), probe_app())
    r = client.get("/probe", headers=nginx_headers("site.example:56021", "10.0.2.2"), environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.text == "https|site.example:56021|https://site.example:56021/probe|10.0.2.2"


def test_the_default_port_is_left_out(tmp_path):
    client, _ = serve(rendered_conf(tmp_path), probe_app())
    r = client.get("/probe", headers=nginx_headers("site.example", "203.0.113.9"), environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.text == "https|site.example|https://site.example/probe|203.0.113.9"


def test_forged_headers_from_a_client_are_not_trusted(tmp_path):
    client, _ = serve(rendered_conf(tmp_path), probe_app())
    forged = {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"}
    r = client.get("/probe", headers=nginx_headers("site.example:8443", "198.51.100.7", incoming=forged), environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.text == "https|site.example:8443|https://site.example:8443/probe|198.51.100.7"


def test_one_trusted_proxy_in_front_gives_its_view(tmp_path):
    client, _ = serve(rendered_conf(tmp_path, hops=2), probe_app())
    from_lb = {"X-Forwarded-For": "192.0.2.50", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example"}
    # nginx sees the load balancer (10.1.1.1) over plain http on its port.
    r = client.get("/probe", headers=nginx_headers("10.1.1.5:8443", "10.1.1.1", incoming=from_lb), environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.text == "https|www.example|https://www.example/probe|192.0.2.50"


def test_secure_cookies_and_body_limit_by_default(tmp_path):
    client, app = serve(rendered_conf(tmp_path, max_length=1024), probe_app(SECRET_KEY="k"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 1024
    r = client.get("/login", headers=nginx_headers("site.example", "10.0.2.2"))
    assert "Secure" in r.headers["Set-Cookie"]
    assert client.post("/login", data={"user": "x" * 2048}, headers=nginx_headers("site.example", "10.0.2.2")).status_code == 413


def test_the_apps_own_settings_and_appenv_win(tmp_path, monkeypatch):
    _, app = serve(rendered_conf(tmp_path), probe_app(MAX_CONTENT_LENGTH=5, REMEMBER_COOKIE_SECURE=False))
    assert app.config["MAX_CONTENT_LENGTH"] == 5
    assert app.config["REMEMBER_COOKIE_SECURE"] is False
    monkeypatch.setenv("FLAGUN_SECURE_COOKIES", "0")
    monkeypatch.setenv("FLAGUN_MAX_CONTENT_LENGTH", "none")
    _, app = serve(rendered_conf(tmp_path), probe_app())
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["MAX_CONTENT_LENGTH"] is None


def test_a_plain_wsgi_callable_is_wrapped_too(tmp_path):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{environ['wsgi.url_scheme']} {environ['REMOTE_ADDR']}".encode()]

    client, _ = serve(rendered_conf(tmp_path), app)
    assert client.get("/", headers=nginx_headers("h", "10.0.2.2"), environ_base={"REMOTE_ADDR": "127.0.0.1"}).text == "https 10.0.2.2"
