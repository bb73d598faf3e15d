"""Login throttling (issue 15, finding 10) with django-axes: failed logins are counted per username and address,
and past AXES_FAILURE_LIMIT that pair is locked out for AXES_COOLOFF_TIME."""

from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' check, for logins over HTTP. Authentication without a request (management commands, the test
    client's `login`) has no address to count against and is left to the next backend."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
