from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    """The operators' pages (dashboard, dataset page, charts): the top app, composing catalog, audits, backfills,
    analytics and ingestion. Nothing below imports it."""

    default = True
    name = "console"
    verbose_name = "Operators' console"


class ConsoleAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "console.admin_site.PetrosaAdminSite"
