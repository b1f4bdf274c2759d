"""Observability: structured logs with redaction, Prometheus metrics, error reporting
(Sentry), health checks, and the audit guard that counts writes without an audit row.

`setup.init_observability(app)` wires them into the app and Celery. The lowest feature
layer: anything may call `metrics` hooks or bind log fields; nothing here imports a
feature.
"""
