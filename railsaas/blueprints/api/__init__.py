"""The JSON API under /api. Bearer-token authenticated (no cookies, so no CSRF), errors as
{"error": {"code", "message", "details"}} (railsaas.errors).

Each area adds a module here and imports it at the bottom, registering routes on `bp`, each
route declared with `@operation` (operations.py: auth, scope, request and response models),
which also generates the OpenAPI document (openapi.py). Lists paginate with pagination.py;
rate limits live in ratelimit.py.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

# Each area's module registers its routes on `bp` when imported.
from railsaas.blueprints.api import (  # noqa: E402, F401
    auth,
    billing,
    instances,
    openapi,
    railway,
    ratelimit,
    stripe_webhook,
    teams,
    templates,
    tokens,
    users,
)
