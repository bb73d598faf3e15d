from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """The same API tokens, sent as `Authorization: Bearer <key>`: the earlier version's published client sends its
    `api_key` that way (DRF's own scheme is `Token <key>`)."""

    keyword = "Bearer"
