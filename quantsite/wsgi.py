"""WSGI entry point (gunicorn ``quantsite.wsgi``).

Refuses to serve when production settings are unsafe: WSGI servers do not run Django's system
checks themselves, so the production checks run here before the first request.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")

application = get_wsgi_application()

from quantsite.checks import refuse_unsafe_production  # noqa: E402  (needs apps loaded)

refuse_unsafe_production()
