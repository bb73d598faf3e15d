"""gunicorn settings read from the working directory by every `gunicorn` start (Procfile, image, tests).

Request lines up to gunicorn's maximum (8190 bytes) reach Django, whose RequestLimitsMiddleware answers a URI past
API_MAX_URI_LENGTH with a JSON 414; gunicorn's own plain-text 414 is left for lines longer still.
"""

limit_request_line = 8190


def post_worker_init(worker) -> None:
    # The worker has loaded Django: keep its start-up heap out of the garbage collector's passes (petrosa_dm.heap).
    from petrosa_dm.heap import tune_gc

    tune_gc()
