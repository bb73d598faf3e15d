import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")

from petrosa_dm.tracing import setup_tracing

setup_tracing("web")
application = get_wsgi_application()
