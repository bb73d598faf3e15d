from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """The same API tokens, sent as `Authorization: Bearer <key>`: the earlier version's published client sends its
    `api_key` that way (DRF's own scheme is `Token <key>`)."""

    keyword = "Bearer"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of the Bearer form (its own name beside DRF's `tokenAuth`)."""

    target_class = "petrosa_dm.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token (`manage.py drf_create_token`)."}
