"""Entry point for ``flask --app wsgi …`` and for gunicorn (``gunicorn wsgi:app``)."""

from grants.app import create_app

app = create_app()
