"""URLs of the ingestion API; included at the root by petrosa_dm.urls (paths are the ecosystem contract, no prefix)."""

from django.urls import path

from books.api.views import BookView

from . import views

urlpatterns = [
    path("data/candles", views.CandlesView.as_view(), name="data-candles"),
    path("data/trades", views.TradesView.as_view(), name="data-trades"),
    # The order book (issue 18); the stored update stream is at /data/depth/updates.
    path("data/depth", BookView.as_view(), name="data-depth"),
    path("data/depth/updates", views.DepthUpdatesView.as_view(), name="data-depth-updates"),
    path("data/funding", views.FundingView.as_view(), name="data-funding"),
    path("data/mark-prices", views.MarkPricesView.as_view(), name="data-mark-prices"),
    path("data/tickers", views.TickersView.as_view(), name="data-tickers"),
    path("data/book-tickers", views.BookTickersView.as_view(), name="data-book-tickers"),
    path("data/liquidations", views.LiquidationsView.as_view(), name="data-liquidations"),
]
