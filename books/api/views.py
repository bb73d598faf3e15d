"""`GET /data/depth`: the order book of a pair now or at a past moment, in the ecosystem's shape.

`data` is exactly what callers read (`bids`, `asks` best first as [price, quantity] strings, `last_update_id`);
`metadata.state` says whether the book is `exact`, `unknown` (a break in the depth stream, with its time and the
resync's) or `empty` (no book yet at that moment), with a message whenever the book is empty.
"""

from datetime import datetime

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from books import selectors
from books.reconstruct import EXACT
from ingestion.api.renderers import ORJSONRenderer
from ingestion.api.serializers import error_serializer
from ingestion.api.views import PAIR
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import time_text, utcnow
from petrosa_dm.params import int_param, pair_param, time_param

DEFAULT_LEVELS = 20
LEVELS = serializers.ListField(
    child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
    help_text="[price, quantity] decimal strings, best first.",
)
_MOMENT = {"time": serializers.DateTimeField(allow_null=True), "update_id": serializers.IntegerField(allow_null=True)}
BOOK_RESPONSE = inline_serializer(
    "OrderBook",
    {
        "pair": serializers.CharField(),
        "data": inline_serializer(
            "OrderBookLevels",
            {
                "bids": LEVELS,
                "asks": LEVELS,
                "last_update_id": serializers.IntegerField(
                    help_text="Update id the book reflects; 0 for an empty or unknown book (see metadata.state)."
                ),
            },
        ),
        "metadata": inline_serializer(
            "OrderBookMetadata",
            {
                "timestamp": serializers.DateTimeField(
                    help_text="Exchange time of the last update the book reflects; for an unknown or empty book, "
                    "the moment asked for (or now)."
                ),
                "book_time": serializers.DateTimeField(
                    allow_null=True, help_text="Exchange time of the last update the book reflects (null: no book)."
                ),
                "source": serializers.CharField(),
                "collection": serializers.CharField(),
                "state": serializers.ChoiceField(choices=["exact", "unknown", "empty"]),
                "update_id": serializers.IntegerField(allow_null=True, help_text="Update id the book reflects."),
                "at": serializers.DateTimeField(allow_null=True, help_text="The moment asked for (null: now)."),
                "levels": serializers.IntegerField(),
                "levels_known": serializers.IntegerField(
                    allow_null=True, help_text="A partial-depth frame's level count: deeper levels are not known."
                ),
                "anchor": inline_serializer(
                    "OrderBookAnchor",
                    {"kind": serializers.CharField(), "update_id": serializers.IntegerField()},
                    allow_null=True,
                ),
                "break": inline_serializer(
                    "OrderBookBreak",
                    {
                        **_MOMENT,
                        "lost_from_update_id": serializers.IntegerField(),
                        "lost_to_update_id": serializers.IntegerField(allow_null=True),
                    },
                    allow_null=True,
                ),
                "resync": inline_serializer("OrderBookResync", _MOMENT, allow_null=True),
                "message": serializers.CharField(required=False),
                "generated_at": serializers.DateTimeField(),
            },
        ),
    },
)


class BookView(APIView):
    renderer_classes = [ORJSONRenderer]

    @extend_schema(
        summary="The order book of a pair, now or at a past moment",
        description=(
            "Rebuilt from the stored REST snapshots, checkpoints and diff updates by Binance's local-book "
            "procedure. `metadata.state` is `exact`, `unknown` (the depth stream broke: lost updates cannot be "
            "fetched, so the book is unknown from the break until the resync snapshot) or `empty` (no book at that "
            "moment); an unknown or empty book is answered with empty sides and a message, never a guess."
        ),
        parameters=[
            PAIR,
            OpenApiParameter(
                "levels",
                {"type": "integer", "minimum": 1, "maximum": settings.BOOKS_MAX_LEVELS, "default": DEFAULT_LEVELS},
                description=f"Levels per side, 1 to {settings.BOOKS_MAX_LEVELS}.",
            ),
            OpenApiParameter(
                "at",
                {"type": "string"},
                description="The moment: ISO-8601 (naive means UTC) or epoch milliseconds. Default: the latest book.",
            ),
        ],
        responses={200: BOOK_RESPONSE, 400: error_serializer, 401: error_serializer, 403: error_serializer},
    )
    def get(self, request):
        query = request.query_params
        symbol = pair_param(query)
        levels = int_param(query, "levels", default=DEFAULT_LEVELS, minimum=1, maximum=settings.BOOKS_MAX_LEVELS)
        at = time_param(query, "at")
        found = selectors.book_at(symbol, at=at)
        return Response(
            {
                "pair": symbol,
                "data": _data(found, levels),
                "metadata": _metadata(symbol, found, at, levels),
            }
        )


def _data(found: selectors.BookAt, levels: int) -> dict:
    if found.state != EXACT or found.book is None:
        # Callers parse the id as an integer (the earlier client's model): 0, never a real id, with the state beside.
        return {"bids": [], "asks": [], "last_update_id": 0}
    return {**found.book.levels(levels), "last_update_id": found.book.update_id}


def _metadata(symbol: str, found: selectors.BookAt, at: datetime | None, levels: int) -> dict:
    exact = found.state == EXACT and found.book is not None
    brk = found.brk if found.state != EXACT else None
    book_time = found.book.time if exact else None
    metadata = {
        # Callers parse `timestamp` unconditionally (CONTRACT.md): without a book it is the moment asked about.
        "timestamp": time_text(book_time or at or utcnow()),
        "book_time": time_text(book_time),
        "source": "mongodb",
        "collection": series(DataType.DEPTH, symbol).collection,
        "state": found.state,
        "update_id": found.book.update_id if exact else None,
        "at": time_text(at),
        "levels": levels,
        "levels_known": found.book.depth_limit if exact else None,
        "anchor": {"kind": found.anchor_kind, "update_id": found.anchor_update_id} if found.anchor_kind else None,
        "break": {
            "time": time_text(brk.last_time),
            "update_id": brk.last_update_id,
            "lost_from_update_id": brk.last_update_id + 1,
            "lost_to_update_id": brk.next_prev_update_id,
        }
        if brk
        else None,
        "resync": {"time": time_text(found.resync_time), "update_id": found.resync_update_id}
        if found.resync_time
        else None,
        "generated_at": time_text(utcnow()),
    }
    if found.message:
        metadata["message"] = found.message
    return metadata
