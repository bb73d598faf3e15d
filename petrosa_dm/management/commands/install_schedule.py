from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from petrosa_dm.celery import app
from petrosa_dm.schedule import schedule


class Command(BaseCommand):
    help = "Install the periodic-task schedule into django-celery-beat (idempotent; run at every deploy)."

    @transaction.atomic
    def handle(self, *args, **options):
        app.loader.import_default_modules()
        installed = 0
        for entry in schedule():
            if entry.task not in app.tasks:
                self.stdout.write(f"skipped {entry.name!r}: task {entry.task} is not available in this build")
                continue
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=entry.every_seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.update_or_create(
                name=entry.name, defaults={"task": entry.task, "interval": interval, "enabled": entry.enabled}
            )
            installed += 1
            state = "enabled" if entry.enabled else "disabled"
            self.stdout.write(f"{entry.name}: {entry.task} every {entry.every_seconds}s ({state})")
        self.stdout.write(self.style.SUCCESS(f"schedule installed: {installed} periodic tasks"))
