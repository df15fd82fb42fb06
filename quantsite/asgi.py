"""ASGI entry point; refuses to serve when production settings are unsafe (see wsgi.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")

application = get_asgi_application()

from quantsite.checks import refuse_unsafe_production  # noqa: E402  (needs apps loaded)

refuse_unsafe_production()
