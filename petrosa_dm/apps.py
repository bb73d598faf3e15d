from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class CoreConfig(AppConfig):
    """Project-wide wiring: the MongoDB connection is registered once, here."""

    name = "petrosa_dm"
    label = "core"
    verbose_name = "Petrosa Data Manager"

    def ready(self) -> None:
        from . import mongo

        mongo.register_connection()


class PetrosaAdminConfig(AdminConfig):
    default_site = "petrosa_dm.admin_site.PetrosaAdminSite"
