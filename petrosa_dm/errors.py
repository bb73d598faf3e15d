"""One JSON error shape at the API edge: `{"detail": "<message>"}`."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
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


class ErrorSerializer(serializers.Serializer):
    """The one error shape every endpoint answers with (documentation only: errors are built above)."""

    detail = serializers.CharField()
    parameter = serializers.CharField(required=False, help_text="The query parameter at fault (400 only).")
    errors = serializers.DictField(required=False, help_text="Per-field messages of a failed body or filter.")


def error_responses(**descriptions: str) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for error statuses, e.g. `error_responses(e400="A bad parameter", e404="Unknown pair")`."""
    return {int(code[1:]): OpenApiResponse(ErrorSerializer, description=text) for code, text in descriptions.items()}
