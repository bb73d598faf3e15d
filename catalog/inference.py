"""What sync_catalog infers from a sample of a collection's rows: field types and cadence."""

import itertools
import statistics
from datetime import datetime

from bson import Decimal128, Int64, ObjectId
from bson.binary import Binary

_INT32 = range(-(2**31), 2**31)
_PYTHON_TO_BSON = (
    (bool, "bool"),  # before int: bool is an int subclass
    (Int64, "long"),
    (float, "double"),
    (str, "string"),
    (datetime, "date"),
    (Decimal128, "decimal"),
    (ObjectId, "objectId"),
    (list, "array"),
    (dict, "object"),
    ((bytes, Binary), "binData"),
)


def bson_type(value: object) -> str:
    """MongoDB's name for the value's BSON type (as `$type` spells it)."""
    if value is None:
        return "null"
    for python_type, name in _PYTHON_TO_BSON:
        if isinstance(value, python_type):
            return name
    if isinstance(value, int):
        return "int" if value in _INT32 else "long"
    return type(value).__name__


def infer_schema(documents: list[dict]) -> dict[str, str]:
    """Field -> BSON type name over the sample; a field seen with several types lists them joined by `|`."""
    seen: dict[str, set[str]] = {}
    for document in documents:
        for field, value in document.items():
            seen.setdefault(field, set()).add(bson_type(value))
    schema = {}
    for field in sorted(seen):
        types = seen[field]
        if {"int", "long"} <= types:  # one integer column whose values outgrew 32 bits
            types = types - {"int"}
        schema[field] = "|".join(sorted(types))
    return schema


def median_spacing_seconds(times: list[datetime]) -> float | None:
    """Median gap between successive distinct times, or None with fewer than two distinct times."""
    ordered = sorted({moment for moment in times if isinstance(moment, datetime)})
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(ordered)]
    return statistics.median(gaps) if gaps else None
