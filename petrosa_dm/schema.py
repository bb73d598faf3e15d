"""The project's OpenAPI schema class: documents that reads are open unless API_READ_REQUIRES_AUTH, and the 414 that
every operation answers to a URI longer than API_MAX_URI_LENGTH (`hardening.RequestLimitsMiddleware`)."""

from django.conf import settings
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework.permissions import SAFE_METHODS

from .permissions import ReadOpenWriteWithModelPermission


class AutoSchema(SpectacularAutoSchema):
    def get_auth(self) -> list:
        auths = super().get_auth()
        perms = [permission.__class__ for permission in self.view.get_permissions()]
        open_read = self.method in SAFE_METHODS and not settings.API_READ_REQUIRES_AUTH
        if open_read and ReadOpenWriteWithModelPermission in perms and {} not in auths:
            auths.append({})  # anonymous access is one of the accepted "security requirements"
        return auths

    def _get_response_bodies(self, direction="response") -> dict:
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            responses.setdefault("414", URI_TOO_LONG)
        return responses


URI_TOO_LONG = {
    "description": "The path and query are longer than API_MAX_URI_LENGTH characters.",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
        }
    },
}
