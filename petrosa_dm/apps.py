from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Project-wide wiring: the MongoDB connection is registered once, here, with the faster Decimal128 decoding."""

    name = "petrosa_dm"
    label = "core"
    verbose_name = "Petrosa Data Manager"

    def ready(self) -> None:
        from . import decimals, mongo

        decimals.install()
        mongo.register_connection()
