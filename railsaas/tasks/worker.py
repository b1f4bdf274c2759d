"""Entry point for `celery -A railsaas.tasks.worker worker|beat`."""

from railsaas.app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
