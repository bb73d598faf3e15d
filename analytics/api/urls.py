"""URLs of the analytics API; included at the root by petrosa_dm.urls (paths are the ecosystem contract, no prefix)."""

from django.urls import path

from . import views

urlpatterns = [
    path("analysis/volatility", views.VolatilityView.as_view(), name="analysis-volatility"),
    path("analysis/volume", views.VolumeView.as_view(), name="analysis-volume"),
    path("analysis/spread", views.SpreadView.as_view(), name="analysis-spread"),
    path("analysis/trend", views.TrendView.as_view(), name="analysis-trend"),
    path("analysis/deviation", views.DeviationView.as_view(), name="analysis-deviation"),
    path("analysis/seasonality", views.SeasonalityView.as_view(), name="analysis-seasonality"),
    path("analysis/correlation", views.CorrelationView.as_view(), name="analysis-correlation"),
    path("analysis/regime", views.RegimeView.as_view(), name="analysis-regime"),
]
