"""Keep configured secrets out of logs and error texts.

Connection errors tend to quote their URL, password included; every log record and every readiness error passes
through `redact`, which replaces the secret key and the passwords of the configured URLs.
"""

import logging
from functools import cache
from urllib.parse import unquote, urlsplit

MASK = "***"
URL_SETTINGS = ("MONGODB_URL", "NATS_URL", "CELERY_BROKER_URL")


@cache
def secret_values() -> tuple[str, ...]:
    from django.conf import settings

    values = {settings.SECRET_KEY, settings.DATABASES["default"].get("PASSWORD") or ""}
    for name in URL_SETTINGS:
        password = urlsplit(getattr(settings, name, "") or "").password
        if password:
            values.update({password, unquote(password)})
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted((value for value in values if len(value) >= 4), key=len, reverse=True))


def redact_url(url: str) -> str:
    """The URL with its credentials masked: `nats://user:***@host`, or `nats://***@host` for a token."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = f"{parts.username}:{MASK}" if parts.password else MASK
    return parts._replace(netloc=f"{userinfo}@{host}").geturl()


def redact(text: str) -> str:
    for secret in secret_values():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is still logged, as logging itself would
            return True
        redacted = redact(message)
        if redacted != message or record.exc_info:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
