import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def secret_file(tmp_path, monkeypatch):
    f = tmp_path / "app_secret_key"
    f.write_text("s3cret-from-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(f))
    return f


@pytest.fixture
def main(secret_file):
    sys.modules.pop("main", None)
    return importlib.import_module("main")


@pytest.fixture
def client(main):
    main.flask_app.config["TESTING"] = True
    return main.flask_app.test_client()


def test_root_says_hello(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.get_data(as_text=True) == "Hello, World!"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_data(as_text=True) == "ok"


def test_unknown_path_is_404(client):
    assert client.get("/nope").status_code == 404


def test_secret_key_comes_from_the_file(main):
    assert main.flask_app.config["SECRET_KEY"] == "s3cret-from-file"


def test_missing_secret_file_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "absent"))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    sys.modules.pop("main", None)
    with pytest.raises(RuntimeError, match="cannot read SECRET_KEY"):
        importlib.import_module("main")


def test_empty_secret_file_fails(tmp_path, monkeypatch):
    f = tmp_path / "empty"
    f.write_text("  \n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(f))
    sys.modules.pop("main", None)
    with pytest.raises(RuntimeError, match="empty"):
        importlib.import_module("main")


def test_secret_key_env_in_clear_is_ignored(secret_file, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    sys.modules.pop("main", None)
    main = importlib.import_module("main")
    assert main.flask_app.config["SECRET_KEY"] == "s3cret-from-file"


def test_forwarded_proto_from_nginx_is_honoured(client):
    r = client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 200
