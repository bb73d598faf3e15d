"""Production hardening: check --deploy is clean, secrets never reach logs or responses, writes are refused."""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from petrosa_dm.testing.services import free_port

ROOT = Path(__file__).resolve().parent.parent

# The production environment the README documents (secrets are placeholders generated per test run).
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE": "true",
    "DJANGO_ALLOWED_HOSTS": "data-manager.example.com,localhost",
}


def run_manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DM_VAR_DIR": str(tmp_path)}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secrets_can_come_from_files_with_trailing_newlines(tmp_path):
    key = secrets.token_urlsafe(50)
    key_file = tmp_path / "django-secret-key"
    key_file.write_text(key + "\n")
    env = {"DJANGO_SECRET_KEY_FILE": str(key_file), "DJANGO_SECRET_KEY": "", "DM_VAR_DIR": str(tmp_path)}
    result = run_manage("shell", "-c", "from django.conf import settings; print(len(settings.SECRET_KEY))", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(len(key))


@pytest.fixture
def web_with_secrets(tmp_path):
    """A real gunicorn with secret-bearing configuration whose stores are unreachable (so errors quote them)."""
    secret_key = secrets.token_urlsafe(50)
    password = secrets.token_urlsafe(16)
    dead = free_port()
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "DJANGO_SECURE": "false",
        "DJANGO_SECRET_KEY": secret_key,
        "DM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "MONGODB_URL": f"mongodb://petrosa:{password}@127.0.0.1:{dead}/petrosa_dm",
        "CELERY_BROKER_URL": f"redis://:{password}@127.0.0.1:{dead}/0",
        "NATS_URL": f"nats://petrosa:{password}@127.0.0.1:{dead}",
        "MONGODB_TIMEOUT_MS": "300",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "petrosa_dm.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/health/liveness", timeout=5, headers={"Host": "localhost"})
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base, log, (secret_key, password)
        process.terminate()
        process.wait(timeout=10)


def test_no_secret_appears_in_logs_or_responses(web_with_secrets):
    base, log, secret_values = web_with_secrets
    bodies = []
    for path in ("/", "/health/readiness", "/health/liveness", "/no/such/page", "/admin/login/", "/schema"):
        bodies.append(requests.get(f"{base}{path}", timeout=15, headers={"Host": "localhost"}).text)
    bodies.append(
        requests.post(
            f"{base}/admin/login/", data={"username": "x", "password": "y"}, timeout=5, headers={"Host": "localhost"}
        ).text
    )
    readiness = requests.get(f"{base}/health/readiness", timeout=15, headers={"Host": "localhost"}).json()
    assert readiness["components"]["mongodb"]["status"] == "unhealthy"
    time.sleep(0.5)
    logged = log.read_text()
    assert "GET /health/readiness" in logged  # the log really was written
    for value in secret_values:
        assert value not in logged
        for body in bodies:
            assert value not in body
