"""The ecosystem's list envelope (CONTRACT.md): `{"data", "pagination", ...}` with the common pagination object
`{"total", "limit", "offset", "page", "pages", "has_next", "has_previous"}` (pages numbered from 1)."""

import math

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from . import params


def pagination_object(*, total: int, limit: int, offset: int, has_next: bool) -> dict:
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "page": offset // limit + 1,
        "pages": math.ceil(total / limit),
        "has_next": has_next,
        "has_previous": offset > 0,
    }


PAGINATION_SCHEMA = {
    "type": "object",
    "required": ["total", "limit", "offset", "page", "pages", "has_next", "has_previous"],
    "properties": {
        "total": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "page": {"type": "integer", "description": "offset // limit + 1"},
        "pages": {"type": "integer"},
        "has_next": {"type": "boolean"},
        "has_previous": {"type": "boolean"},
    },
}


class BoundedPagination(LimitOffsetPagination):
    """Every list has a maximum page size; a limit or offset outside its range is 400 naming it.

    The response is `{"data", "pagination"}` plus what the view's `list_extras(request)` adds (filters_applied,
    sort, ...).
    """

    default_limit = 100
    max_limit = 1000

    def get_limit(self, request):
        return params.int_param(
            request.query_params, "limit", default=self.default_limit, minimum=1, maximum=self.max_limit
        )

    def get_offset(self, request):
        return params.int_param(request.query_params, "offset", default=0, minimum=0, maximum=10**9)

    def paginate_queryset(self, queryset, request, view=None):
        self.view = view
        self.request = request
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        body = {
            "data": data,
            "pagination": pagination_object(
                total=self.count, limit=self.limit, offset=self.offset, has_next=self.offset + self.limit < self.count
            ),
        }
        extras = getattr(self.view, "list_extras", None)
        if extras:
            body.update(extras(self.request))
        return Response(body)

    def get_paginated_response_schema(self, schema):
        extras = getattr(self, "schema_extras", {})
        return {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {"data": schema, "pagination": PAGINATION_SCHEMA, **extras},
        }

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "limit":
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_limit}
        return parameters
