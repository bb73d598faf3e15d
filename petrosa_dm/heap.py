"""The cyclic garbage collector, made cheap for long-running processes: call `tune_gc()` once, after start-up.

Requests and message batches allocate thousands of short-lived dicts and lists (a page of 1,000 candles is about
20,000 objects), so the collector runs a young-generation pass every 700 allocations, and every few of those an
older pass that walked the whole start-up heap (Django, its apps, the libraries): about a fifth of the consumer's
time, and a few ms of an API request. Freezing moves that heap out of the collector's view. The thresholds stay as
they are: rejected messages leave reference cycles (exceptions and their frames) holding their payloads, which must
be collected soon.

Used by `manage.py consume` and gunicorn's worker start (`gunicorn.conf.py`, after the application is loaded).
"""

import gc
from contextlib import contextmanager


def tune_gc() -> None:
    gc.freeze()


@contextmanager
def collector_paused():
    """No cyclic collection while a block builds a large, acyclic structure (a parsed JSON book, a replay pack).

    Allocating a hundred thousand lists and tuples sets off young and full collections every few hundred of them,
    and each full one walks everything built so far: building one past order book cost 30 ms, and 60-100 ms more
    in collections. Such temporaries have no cycles, so reference counting frees them.

    What the block keeps (a book of ten thousand (price, quantity) tuples) is then walked once by a young-generation
    pass, which stops tracking the tuples of strings: about 1 ms here, where left to the collector the first full
    pass over a web process's cached books took 25-30 ms of some unlucky request."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.collect(0)
            gc.enable()
