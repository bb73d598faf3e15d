from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions


class ReadOpenWriteWithModelPermission(DjangoModelPermissions):
    """Reads are open inside the cluster unless API_READ_REQUIRES_AUTH; writes need the model permission."""

    def has_permission(self, request, view) -> bool:
        if not hasattr(view, request.method.lower()):
            # A method the view does not have: let DRF answer 405 rather than 401/403 (issue 15).
            return True
        if request.method in SAFE_METHODS:
            return bool(not settings.API_READ_REQUIRES_AUTH or (request.user and request.user.is_authenticated))
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            # A write view without a model must say which permission it needs; refuse rather than guess.
            return False
        return super().has_permission(request, view)
