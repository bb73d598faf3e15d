"""Request-level protections of issue 15 (docs/security.md): middleware that keeps a stalled store, odd hosts and
oversized requests from costing threads or answering outside the JSON error shape."""

from django.http import JsonResponse

from . import mongo

# API reads served from the store: while it is known to be stalled they answer 503 at once.
STORE_PATHS = ("/data/", "/analysis/")


class StoreFailFastMiddleware:
    """After a store timeout (see errors._store_unavailable), store-backed reads answer 503 for
    MONGODB_FAIL_FAST_SECONDS without touching the store: each would otherwise hold a server thread for the whole
    timeout, and with every thread held even liveness goes unanswered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(STORE_PATHS):
            try:
                mongo.fail_fast()
            except mongo.StoreUnavailable as exc:
                return JsonResponse({"detail": f"the market-data store is unavailable: {exc}"}, status=503)
        return self.get_response(request)
