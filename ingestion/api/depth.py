"""`/data/depth`: the order book of a pair, in the shape callers read (CONTRACT.md).

For now the book is the newest stored whole book (a partial-depth frame or a REST snapshot), best levels first;
full reconstruction from diffs ("Order books") replaces the body of `OrderBookView.get`. The stored update stream
is served at `/data/depth/updates`.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ingestion import selectors
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.params import pair_param

from .renderers import ORJSONRenderer
from .rows import time_text
from .serializers import error_serializer
from .views import PAIR

LEVELS = serializers.ListField(
    child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
    help_text="[price, quantity] decimal strings, best first.",
)
ORDER_BOOK = inline_serializer(
    "OrderBook",
    {
        "pair": serializers.CharField(),
        "data": inline_serializer(
            "OrderBookData",
            {
                "bids": LEVELS,
                "asks": LEVELS,
                "last_update_id": serializers.IntegerField(help_text="The book's update id (0 when none is known)."),
            },
        ),
        "metadata": inline_serializer(
            "OrderBookMetadata",
            {
                "timestamp": serializers.DateTimeField(help_text="Time of the book (now when none is known)."),
                "source": serializers.CharField(),
                "collection": serializers.CharField(),
                "book_source": serializers.ChoiceField(
                    choices=[*selectors.FULL_BOOK_KINDS, "none"], help_text="The stored row the book comes from."
                ),
                "message": serializers.CharField(required=False, help_text="Why the book is empty."),
            },
        ),
    },
)


def best_first(levels: list, *, descending: bool) -> list[list[str]]:
    """Levels with a quantity, sorted best first (bids high to low, asks low to high), as the stored strings."""
    present = [[price, quantity] for price, quantity in levels or [] if Decimal(quantity) != 0]
    return sorted(present, key=lambda level: Decimal(level[0]), reverse=descending)


class OrderBookView(APIView):
    renderer_classes = [ORJSONRenderer]

    @extend_schema(
        summary="Order book of a pair",
        description="The newest stored whole book (partial-depth frame or REST snapshot), best levels first; an "
        "empty book with `metadata.message` when none is stored. Stored updates: `/data/depth/updates`.",
        parameters=[PAIR],
        responses={200: ORDER_BOOK, 400: error_serializer, 401: error_serializer, 403: error_serializer},
    )
    def get(self, request):
        ref = series(DataType.DEPTH, pair_param(request.query_params))
        book = selectors.depth_latest_full_book(ref=ref)
        metadata = {"source": "mongodb", "collection": ref.collection}
        if book is None:
            data = {"bids": [], "asks": [], "last_update_id": 0}
            metadata |= {"timestamp": time_text(selectors.utcnow()), "book_source": "none"}
            metadata["message"] = f"no order book stored for {ref.symbol}"
        else:
            data = {
                "bids": best_first(book.get("bids"), descending=True),
                "asks": best_first(book.get("asks"), descending=False),
                "last_update_id": book["final_update_id"],
            }
            metadata |= {"timestamp": time_text(book["event_time"]), "book_source": book["kind"]}
        return Response({"pair": ref.symbol, "data": data, "metadata": metadata})
