"""The exchange's tradable symbols: the one place that knows which symbols may create series.

Binance's `/fapi/v1/exchangeInfo` lists the USD-M symbols. `symbols_refresh` fetches it through the backfiller's
Binance client (weight-aware) and caches it in the store (collection `exchange_symbols`), on start and on a
schedule (`ingestion.tasks.refresh_exchange_symbols`); the consumer and the backfill API ask `known_symbols()`,
which reads that cache at most every SYMBOLS_CACHE_SECONDS per process.

The known set is the cached exchange list, or SYMBOLS_FALLBACK when none was ever fetched (Binance unreachable),
plus SYMBOLS_ALLOWED_EXTRA. With neither a fetched list nor a fallback there is nothing to check against, and every
well-formed symbol is accepted (logged once): configure SYMBOLS_FALLBACK where the first fetch may fail.
"""

import logging
import threading
import time

from django.conf import settings

from .naming import InvalidName, normalize_symbol
from .timeutils import utcnow

logger = logging.getLogger(__name__)

COLLECTION = "exchange_symbols"
DOCUMENT_ID = "binance_usdm"

_lock = threading.Lock()
_cache: tuple[float, frozenset[str] | None] | None = None  # (read at, known set)
_warned = False


def _configured(name: str) -> set[str]:
    symbols = set()
    for value in getattr(settings, name):
        try:
            symbols.add(normalize_symbol(value))
        except InvalidName:
            logger.warning("ignoring invalid symbol %r in %s", value, name)
    return symbols


def cached_exchange_symbols() -> tuple[list[str], object] | None:
    """(symbols, fetched_at) of the last successful fetch stored in the store, or None."""
    import pymongo

    from petrosa_dm import mongo

    # A short deadline: the consumer asks between batches, and a stalled store must not hold it there.
    with pymongo.timeout(settings.MONGODB_TIMEOUT_MS / 1000):
        document = mongo.database()[COLLECTION].find_one({"_id": DOCUMENT_ID})
    if not document:
        return None
    return list(document.get("symbols", [])), document.get("fetched_at")


def known_symbols() -> frozenset[str] | None:
    """The symbols that may create series, or None when there is nothing to check against (see the module)."""
    global _cache, _warned
    with _lock:
        if _cache is not None and time.monotonic() - _cache[0] < settings.SYMBOLS_CACHE_SECONDS:
            return _cache[1]
        previous = _cache[1] if _cache is not None else None
        try:
            cached = cached_exchange_symbols()
        except Exception as exc:  # the store is down: keep what we knew; the write path is failing anyway
            logger.warning("could not read the exchange's symbols: %s", exc)
            _cache = (time.monotonic(), previous)
            return previous
        base = set(cached[0]) if cached else _configured("SYMBOLS_FALLBACK")
        if not base:
            known = None
            if not _warned:
                logger.warning("no exchange symbol list fetched yet and no SYMBOLS_FALLBACK: accepting every symbol")
                _warned = True
        else:
            known = frozenset(base | _configured("SYMBOLS_ALLOWED_EXTRA"))
        _cache = (time.monotonic(), known)
        return known


def is_known(symbol: str) -> bool:
    known = known_symbols()
    return known is None or symbol in known


def forget() -> None:
    """Drop the process cache (after a refresh, or between tests)."""
    global _cache
    with _lock:
        _cache = None


def _symbols_of(body: dict) -> list[str]:
    # Every listed symbol (trading, pending, settling): data of a symbol Binance lists is real data.
    symbols = []
    for entry in body["symbols"]:
        try:
            symbols.append(normalize_symbol(entry["symbol"]))
        except InvalidName:
            continue  # a listing outside our naming rules cannot name a series anyway
    if not symbols:
        raise ValueError("exchangeInfo lists no symbols")
    return sorted(set(symbols))


def symbols_refresh(*, base_url: str | None = None) -> list[str]:
    """Fetch the exchange's symbols and cache them in the store; raises if Binance cannot be asked (the cached
    list, or the fallback, stays in force)."""
    from backfills.client import BinanceClient
    from petrosa_dm import mongo

    client = BinanceClient(base_url=base_url)
    try:
        symbols = client.exchange_info(convert=_symbols_of)
    finally:
        client.close()
    mongo.database()[COLLECTION].replace_one(
        {"_id": DOCUMENT_ID}, {"_id": DOCUMENT_ID, "symbols": symbols, "fetched_at": utcnow()}, upsert=True
    )
    forget()
    logger.info("exchange symbols refreshed", extra={"symbols": len(symbols)})
    return symbols
