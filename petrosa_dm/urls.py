from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("", views.ServiceInfoView.as_view(), name="service-info"),
    path("health/liveness", views.LivenessView.as_view(), name="health-liveness"),
    path("health/readiness", views.ReadinessView.as_view(), name="health-readiness"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    # Data (`/data/...`), catalog, audits (`/health/summary`, `/health`), backfills and analytics APIs.
    path("", include("ingestion.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("audits.api.urls")),
    path("", include("backfills.api.urls")),
    path("", include("analytics.api.urls")),
    path("", include("django_prometheus.urls")),
]

handler404 = "petrosa_dm.errors.not_found"
handler500 = "petrosa_dm.errors.server_error"
