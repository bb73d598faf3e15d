import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin user if no superuser exists (password from DM_ADMIN_PASSWORD, or generated and printed)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DM_ADMIN_USER", "admin"))

    def handle(self, *args, username: str, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("admin user exists; nothing to do")
            return
        configured = os.environ.get("DM_ADMIN_PASSWORD", "")
        password = configured or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        shown = "(from DM_ADMIN_PASSWORD)" if configured else password
        self.stdout.write(self.style.SUCCESS(f"created admin user {username!r} with password {shown}"))
        port = os.environ.get("API_PORT", "8000")  # as `make run` passes it
        self.stdout.write(f"log in at http://127.0.0.1:{port}/admin/ - this password is shown only once")
