"""Why a message was rejected: one exception per reason, each carrying the reason code the metrics and the
dead-letter collection use (`data_manager_messages_failed_total{reason}`, `dead_letters.reason`)."""


class InvalidMessage(ValueError):
    """A message (or one event of an array payload) that cannot be stored."""

    reason = "invalid"


class InvalidJson(InvalidMessage):
    reason = "invalid_json"


class NoEvent(InvalidMessage):
    """JSON, but neither an event, a wrapper around one, nor an array of them."""

    reason = "no_event"


class MissingField(InvalidMessage):
    reason = "missing_field"


class WrongType(InvalidMessage):
    """A field of the wrong JSON type, or a number/decimal string that does not parse."""

    reason = "wrong_type"


class InvalidName(InvalidMessage):
    """A symbol or kline interval outside the collection naming rules."""

    reason = "invalid_name"


class UnknownSymbol(InvalidMessage):
    """A well-formed symbol the exchange does not list (petrosa_dm.market.symbols): it must create nothing."""

    reason = "unknown_symbol"


class NonPositivePrice(InvalidMessage):
    reason = "non_positive_price"


class NegativeQuantity(InvalidMessage):
    reason = "negative_quantity"


class ImpossibleTime(InvalidMessage):
    """A time outside 2010-2100 (timeutils.MIN_VALID..MAX_VALID) or times in an impossible order."""

    reason = "impossible_time"


class DepthKindMismatch(InvalidMessage):
    """A depth frame whose content contradicts its stream label (a `@depth20` frame removing a level)."""

    reason = "depth_kind_mismatch"


class ParserBug(InvalidMessage):
    """An unexpected exception while parsing: dead-lettered like bad input, so no input can stop the consumer."""

    reason = "parse_error"


REASONS = tuple(
    cls.reason
    for cls in (
        InvalidJson,
        NoEvent,
        MissingField,
        WrongType,
        InvalidName,
        UnknownSymbol,
        NonPositivePrice,
        NegativeQuantity,
        ImpossibleTime,
        DepthKindMismatch,
        ParserBug,
    )
)
