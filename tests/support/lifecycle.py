"""Helpers for tests/lifecycle (test modules import them from here, not from a conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.waiting import wait_until
from tests.support.web import csrf_from

GHOST_CONFIG = {
    "services": {
        "svc-ghost": {
            "name": "ghost",
            "source": {"image": "ghost:5"},
            "networking": {"serviceDomains": {"ghost": {"port": 2368}}},
            "variables": {
                "ADMIN_EMAIL": {"description": "Your login", "isOptional": False},
                "SITE_TITLE": {"defaultValue": "My blog", "isOptional": True},
                "DB_PASSWORD": {"defaultValue": "${{ secret(32) }}"},
                "url": {"defaultValue": "https://${{RAILWAY_PUBLIC_DOMAIN}}"},
            },
        },
        "svc-db": {
            "name": "mysql",
            "source": {"image": "mysql:8"},
            "variables": {"MYSQL_ROOT_PASSWORD": {"defaultValue": "${{ secret(32) }}"}},
        },
    }
}


GHOST_VARIABLES = [
    {
        "name": "ADMIN_EMAIL",
        "label": "Admin email",
        "required": True,
        "pattern": r"[^@\s]+@[^@\s]+\.[^@\s]+",
        "help": "you@example.com",
    },
    {"name": "SITE_TITLE", "label": "Site title", "default": "My blog"},
    {"name": "API_KEY", "label": "API key", "generate": "secret"},
]


def railway_template(emulator, factory, code: str, **kw):
    from railsaas.catalog.variables import propose_specs

    found = next(t for t in emulator.templates() if t["code"] == code)
    fields = dict(
        railway_template_id=found["id"],
        code=code,
        name=found["name"],
        category=found["category"].lower(),
        price_tier="starter",
        serialized_config=found["serializedConfig"],
        setup_config={"variables": propose_specs(found["serializedConfig"])},
    )
    fields.update(kw)
    return factory.template(**fields)


@dataclass
class Lifecycle:
    """A customer, a template from the emulator's catalog, a signed-in browser, and helpers
    that drive the poll (beat is not running in tests) until something is true."""

    app: object
    emulator: object
    factory: object
    user: object
    tenant: object
    template: object
    browser: object

    def csrf(self) -> str:
        return csrf_from(self.browser.get("/instances/").get_data(as_text=True))

    def deploy(self, name: str, template=None, **variables) -> str:
        template = template or self.template
        resp = self.browser.post(
            f"/templates/{template.id}/deploy",
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf()},
            data={"name": name, **{f"variables.{k}": v for k, v in variables.items()}},
        )
        assert resp.status_code == 204, resp.get_data(as_text=True)
        return resp.headers["HX-Redirect"].rsplit("/", 1)[1]

    def act(self, instance_id: str, action: str) -> None:
        resp = self.browser.post(
            f"/instances/{instance_id}/actions/{action}", headers={"X-CSRFToken": self.csrf()}
        )
        assert resp.status_code == 303, resp.get_data(as_text=True)

    def instance(self, instance_id):
        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Instance

        with db.scope(SYSTEM) as s:
            inst = s.get(Instance, instance_id)
            s.expunge(inst)
            return inst

    def steps(self, instance_id) -> list[tuple[str, str]]:
        from sqlalchemy import select

        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Deployment

        with db.scope(SYSTEM) as s:
            return [
                (d.kind, d.status)
                for d in s.scalars(
                    select(Deployment)
                    .where(Deployment.instance_id == instance_id)
                    .order_by(Deployment.created_at)
                )
            ]

    def email_subjects(self) -> list[str]:
        from sqlalchemy import select

        from railsaas.db import SYSTEM
        from railsaas.extensions import db
        from railsaas.models import Email

        with db.scope(SYSTEM) as s:
            return list(s.scalars(select(Email.subject).where(Email.tenant_id == self.tenant.id)))

    def poll(self) -> None:
        from railsaas.instances import poll

        with self.app.app_context():
            poll.poll()

    def wait_for(self, instance_ids, statuses, timeout: float = 45.0) -> dict:
        """Poll until every instance is in one of `statuses`; return {id: status}."""
        ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        seen: dict = {}

        def settled():
            self.poll()
            seen.update({i: self.instance(i).status for i in ids})
            return all(s in wanted for s in seen.values()) and dict(seen)

        try:
            return wait_until(
                settled,
                timeout=timeout,
                interval=0.3,
                message=f"every instance in {sorted(wanted)}",
            )
        except AssertionError as e:
            raise AssertionError(f"{e}; still {seen}") from None

    def projects_named(self, instance_id) -> list[dict]:
        return [
            p
            for p in self.emulator.state()["projects"]
            if p["name"] == f"railsaas-{instance_id}" and not p["deleted"]
        ]
