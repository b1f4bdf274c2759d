"""The admin panel under /admin: platform admins only. Requests here run as
the admin login (bound in railsaas.context), so they see every workspace.

Each area adds a module here (plans.py, templates.py, users.py, ...) registering routes on
`bp` (blueprint.py), and is imported here.
"""

from __future__ import annotations

from railsaas.blueprints.admin import (  # noqa: F401  (each registers its routes)
    acquisition,
    audit,
    database,
    instances,
    jobs,
    metrics,
    plans,
    railway,
    templates,
    users,
    workspaces,
)
from railsaas.blueprints.admin.blueprint import bp

__all__ = ["bp"]
