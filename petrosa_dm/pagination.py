from rest_framework.pagination import LimitOffsetPagination


class BoundedPagination(LimitOffsetPagination):
    """Every list has a maximum page size."""

    default_limit = 100
    max_limit = 1000
