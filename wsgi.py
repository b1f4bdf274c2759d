"""WSGI entry point: `gunicorn wsgi:app`."""

from railsaas import create_app

app = create_app()
