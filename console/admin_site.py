from django.contrib import admin

from petrosa_dm.market.timeutils import utcnow


class PetrosaAdminSite(admin.AdminSite):
    """The operators' console: the index is a dashboard of data health, gaps, jobs and intake."""

    site_header = "Petrosa Data Manager"
    site_title = "Petrosa Data Manager"
    index_title = "Data health at a glance"
    # The app list is on the dashboard; without the sidebar every page has the full width for its tables.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        from .dashboard import dashboard_overview  # models are importable only once the apps are loaded

        context = {"dashboard": dashboard_overview(now=utcnow()), **(extra_context or {})}
        return super().index(request, extra_context=context)
