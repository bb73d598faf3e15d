"""Read throttling (issue 15, finding 9): anonymous clients by address, authenticated users by id, and none for the
cluster's own services, which authenticate with the token of a user named in API_THROTTLE_EXEMPT_USERS.

Counts live in the `throttle` cache (THROTTLE_CACHE_URL; per process by default, shared when it names a Redis)."""

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _ServiceExempt:
    @property
    def cache(self):
        return caches["throttle"]

    def allow_request(self, request, view) -> bool:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.get_username() in settings.API_THROTTLE_EXEMPT_USERS:
            return True
        return super().allow_request(request, view)


class AnonReadThrottle(_ServiceExempt, AnonRateThrottle):
    pass


class UserReadThrottle(_ServiceExempt, UserRateThrottle):
    pass
