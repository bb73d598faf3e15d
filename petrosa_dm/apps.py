from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Project-wide wiring: the MongoDB connection is registered once, here."""

    name = "petrosa_dm"
    label = "core"
    verbose_name = "Petrosa Data Manager"

    def ready(self) -> None:
        from . import mongo

        mongo.register_connection()
