"""The list endpoints' filter backend: a bad filter value is a 400 in the one error shape, naming the parameter.

django-filter's own backend answers `{"<filter name>": ["<message>"]}`, which the error handler flattened into
"created_from: Enter a valid date/time." without `parameter`: the filter's internal name, not the query's `from`.
"""

from django_filters.rest_framework import DjangoFilterBackend

from .errors import BadParameter


class ParameterFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            name, messages = next(iter(filterset.errors.items()))
            parameter = getattr(filterset, "query_names", {}).get(name, name)
            raise BadParameter(parameter, " ".join(str(message) for message in messages))
        return filterset.qs
