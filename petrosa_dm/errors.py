"""One JSON error shape at the API edge: `{"detail": "<message>"}`."""

from rest_framework import exceptions
from rest_framework.views import exception_handler


class BadParameter(exceptions.ValidationError):
    """A query parameter failed validation; the message names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__({"detail": f"{parameter}: {message}", "parameter": parameter})


def _flatten(detail: object) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) <= {"detail", "parameter"} and isinstance(data.get("detail"), str):
        return response
    response.data = {"detail": _flatten(data)}
    if isinstance(data, dict):
        response.data["errors"] = data
    return response
