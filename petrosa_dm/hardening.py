"""Request-level protections of issue 15 (docs/security.md): middleware that keeps a stalled store, odd hosts and
oversized requests from costing threads or answering outside the JSON error shape."""

import pymongo
from django.conf import settings
from django.http import JsonResponse

from . import mongo

# API reads served from the store: while it is known to be stalled they answer 503 at once.
STORE_PATHS = ("/data/", "/analysis/")


class StoreDeadlineMiddleware:
    """Every API request's store operations share one deadline, API_STORE_TIMEOUT_MS (pymongo's `timeout()`
    context; the server gets the remaining time as maxTimeMS), so a stalled or overloaded store costs a request
    at most that long. The admin keeps the process-wide MONGODB_MAX_TIME_MS.

    After a store timeout (see errors._store_unavailable), store-backed reads answer 503 for
    MONGODB_FAIL_FAST_SECONDS without touching the store: each would otherwise hold a server thread for the whole
    deadline, and with every thread held even liveness goes unanswered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            return self.get_response(request)
        if request.path.startswith(STORE_PATHS):
            try:
                mongo.fail_fast()
            except mongo.StoreUnavailable as exc:
                return JsonResponse({"detail": f"the market-data store is unavailable: {exc}"}, status=503)
        with pymongo.timeout(settings.API_STORE_TIMEOUT_MS / 1000):
            return self.get_response(request)


class MetricsAnyHostMiddleware:
    """`/metrics` answers whatever Host the scrape names: Prometheus addresses pods by IP, which ALLOWED_HOSTS
    cannot list, and Django refused those scrapes with a 400. Served before any host check; it exposes only
    what it always did."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/metrics" and request.method in ("GET", "HEAD"):
            from django_prometheus.exports import ExportToDjangoView

            return ExportToDjangoView(request)
        return self.get_response(request)


class RequestLimitsMiddleware:
    """Oversized requests are refused in the JSON error shape before anything reads them: a body larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, a path and query longer than API_MAX_URI_LENGTH a 414 (gunicorn.conf.py
    lets request lines up to 8190 bytes through so that this answer, not gunicorn's plain-text one, is the usual)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        if len(request.get_full_path()) > settings.API_MAX_URI_LENGTH:
            return JsonResponse({"detail": f"URI longer than {settings.API_MAX_URI_LENGTH} characters"}, status=414)
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length.isdigit() and int(length) > limit:
            return JsonResponse({"detail": f"request body larger than {limit} bytes"}, status=413)
        return self.get_response(request)
