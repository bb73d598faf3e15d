"""`manage.py refresh_symbols`: fetch Binance's exchangeInfo and cache its symbols in the store now."""

from django.core.management.base import BaseCommand

from petrosa_dm.market.symbols import symbols_refresh


class Command(BaseCommand):
    help = "Fetch the exchange's USD-M symbols (/fapi/v1/exchangeInfo) and cache them in the store."

    def handle(self, *args, **options):
        symbols = symbols_refresh()
        self.stdout.write(f"{len(symbols)} exchange symbols cached")
