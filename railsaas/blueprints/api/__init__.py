"""The JSON API under /api. Bearer-token authenticated (no cookies, so no CSRF), errors as
{"error": {"code", "message", "details"}} (railsaas.errors).

Each area adds a module here, imported below, registering routes on `bp` (blueprint.py), each
route declared with `@operation` (operations.py: auth, scope, request and response models),
which also generates the OpenAPI document (openapi.py). Lists paginate with pagination.py;
rate limits live in ratelimit.py.
"""

from __future__ import annotations

# Each area's module registers its routes on `bp` (blueprint.py) when imported.
from railsaas.blueprints.api import (  # noqa: F401
    acquisition,
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
from railsaas.blueprints.api.blueprint import bp

__all__ = ["bp"]
