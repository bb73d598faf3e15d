from django.core.management.base import BaseCommand

from catalog.services import sync_catalog


class Command(BaseCommand):
    help = "Discover the time-series collections in MongoDB and refresh the catalog's datasets."

    def handle(self, *args, **options):
        self.stdout.write(self.style.SUCCESS(sync_catalog().summary()))
