"""Finding 7: the `consume` banner printed NATS_URL with its password (the README promises redaction)."""

import signal
import time

import pytest

from petrosa_dm.redaction import redact_url

pytestmark = pytest.mark.timeout(90)


def test_the_consume_banner_masks_the_nats_password(pipeline):
    host = pipeline.options.nats_url.removeprefix("nats://")
    consumer = pipeline.consumer(NATS_URL=f"nats://operator:hunter2-secret@{host}")
    deadline = time.monotonic() + 30
    while "consuming" not in pipeline.consumer_log(0):
        assert time.monotonic() < deadline and consumer.poll() is None, pipeline.consumer_log(0)
        time.sleep(0.1)
    consumer.send_signal(signal.SIGTERM)
    consumer.wait(timeout=30)
    output = pipeline.consumer_log(0)
    assert "hunter2-secret" not in output
    assert f"from nats://operator:***@{host} " in output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://u:p%40ss@nats:4222", "nats://u:***@nats:4222"),
        ("nats://s3cr3t-token@nats:4222", "nats://***@nats:4222"),
        ("nats://nats:4222", "nats://nats:4222"),
    ],
)
def test_urls_are_shown_without_credentials(url, shown):
    assert redact_url(url) == shown
