"""The project's OpenAPI schema class: documents that reads are open unless API_READ_REQUIRES_AUTH."""

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
