"""RailSaaS: reselling app hosting on Railway.

The app factory is `railsaas.app.create_app`; docs/architecture.md maps the packages.
"""
