"""WSGI entry point: `gunicorn wsgi:app`."""

from railsaas.app import create_app

app = create_app()
