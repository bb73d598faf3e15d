"""URLs of the ingestion API; included at the root by petrosa_dm.urls (paths are the ecosystem contract, no prefix)."""

urlpatterns: list = []
