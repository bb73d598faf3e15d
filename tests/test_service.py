import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db


def test_service_info_links_the_docs(client):
    body = client.get("/").json()
    assert body["service"] == "petrosa-data-manager"
    assert body["links"]["docs"] == "/docs"


def test_openapi_schema_builds_and_docs_render_offline(client):
    schema = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/health/readiness" in schema.json()["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    # Swagger UI's assets come from this service (drf-spectacular-sidecar), never from a CDN.
    assert "swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html


def test_metrics_serve_prometheus_text(client):
    client.get("/health/liveness")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in text


def test_admin_login_works_for_the_created_admin(client, monkeypatch, capsys):
    monkeypatch.setenv("DM_ADMIN_PASSWORD", "a-long-test-password")
    call_command("ensure_admin")
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert client.login(username="admin", password="a-long-test-password")
    assert client.get("/admin/").status_code == 200


def test_ensure_admin_prints_a_generated_password_once(monkeypatch, capsys):
    monkeypatch.delenv("DM_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("API_PORT", "8100")  # `make run API_PORT=8100`
    call_command("ensure_admin")
    first = capsys.readouterr().out
    assert "created admin user 'admin' with password" in first
    assert "log in at http://127.0.0.1:8100/admin/" in first
    password = first.split("with password ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    call_command("ensure_admin")
    assert "nothing to do" in capsys.readouterr().out


def test_install_schedule_is_idempotent(settings):
    call_command("install_schedule")
    first = set(PeriodicTask.objects.values_list("name", "task"))
    call_command("install_schedule")
    assert set(PeriodicTask.objects.values_list("name", "task")) == first


def test_unknown_paths_answer_in_the_json_error_shape(client):
    response = client.get("/backfill/jobs/not-a-number")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "not found: /backfill/jobs/not-a-number"}
