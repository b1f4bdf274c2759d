"""The deploy dialog: a form built from the template's variables; limits checked before
anything is created; bad input shows the field's error and creates nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Deployment, Instance, OutboxMessage

HX = {"HX-Request": "true"}


def _counts() -> tuple[int, int, int]:
    with db.scope(SYSTEM) as s:
        return (
            s.scalar(select(func.count()).select_from(Instance)),
            s.scalar(select(func.count()).select_from(Deployment)),
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.task == "instances.run_step")
            ),
        )


def _csrf(client, ghost) -> str:
    from tests.support import csrf_from

    return csrf_from(client.get(f"/templates/{ghost.id}").get_data(as_text=True))


def test_the_deploy_dialog_is_built_from_the_templates_variables(client, make_customer, ghost):
    make_customer(client)
    resp = client.get(f"/templates/{ghost.id}/deploy", headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.lstrip().startswith("<dialog")
    assert 'name="name"' in html
    assert 'name="variables.ADMIN_EMAIL"' in html
    assert "required" in html
    assert 'placeholder="My blog"' in html
    assert 'name="variables.API_KEY" type="password"' in html
    assert "Leave blank to generate" in html


def test_deploy_needs_a_signed_in_user(client, ghost):
    resp = client.get(f"/templates/{ghost.id}/deploy")
    assert resp.status_code in (302, 401)


def test_bad_variable_input_shows_the_fields_error_and_creates_nothing(
    client, make_customer, ghost
):
    make_customer(client)
    token = _csrf(client, ghost)
    before = _counts()
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        headers={**HX, "X-CSRFToken": token},
        data={"name": "blog", "variables.ADMIN_EMAIL": "not-an-email"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200  # HTMX swaps 2xx only: the dialog shows the error
    assert 'data-testid="field-error"' in html
    assert "Admin email is not in the expected format" in html
    assert 'aria-invalid="true"' in html
    assert 'value="blog"' in html
    assert _counts() == before
    # Without HTMX: the whole page again, with the same error.
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        data={"csrf_token": token, "name": "Bad Name!", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    assert resp.status_code == 200
    assert "lowercase letters" in resp.get_data(as_text=True)
    assert _counts() == before


def test_a_good_deploy_writes_instance_step_and_outbox_together(client, make_customer, ghost):
    customer = make_customer(client)
    token = _csrf(client, ghost)
    before = _counts()
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        headers={**HX, "X-CSRFToken": token},
        data={"name": "blog", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"].startswith("/instances/")
    assert _counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    with db.scope(SYSTEM) as s:
        inst = s.scalar(select(Instance).where(Instance.tenant_id == customer.tenant.id))
        assert inst.status == "requested"
        assert inst.name == "blog"
        assert inst.config["ADMIN_EMAIL"] == "ada@example.com"
        assert inst.config["SITE_TITLE"] == "My blog"
        assert inst.config["API_KEY"]
        step = s.scalar(select(Deployment).where(Deployment.instance_id == inst.id))
        assert (step.kind, step.status) == ("deploy", "queued")
        msg = s.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.task == "instances.run_step")
            .order_by(OutboxMessage.id.desc())
        )
        assert msg.args == {"step_id": str(step.id)}  # ids only: no variable values


def test_plan_limits_are_checked_before_anything_is_created(client, make_customer, factory, ghost):
    customer = make_customer(client, max_instances=1)
    factory.instance(customer.tenant, ghost, name="existing")
    token = _csrf(client, ghost)
    before = _counts()
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        headers={**HX, "X-CSRFToken": token},
        data={"name": "blog", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    html = resp.get_data(as_text=True)
    assert 'data-testid="deploy-error"' in html
    assert "1 instance" in html
    assert _counts() == before


def test_templates_outside_the_plans_tiers_are_refused_with_a_clear_message(
    client, make_customer, factory
):
    make_customer(client, allowed_tiers=["starter"])
    pro = factory.template(name="Big DB", price_tier="pro")
    token = _csrf(client, pro)
    resp = client.post(f"/templates/{pro.id}/deploy", data={"csrf_token": token, "name": "db"})
    assert resp.status_code == 200
    assert "pro template" in resp.get_data(as_text=True)
    assert "pgrade" in resp.get_data(as_text=True)


def test_instance_names_are_unique_per_workspace(client, make_customer, factory, ghost):
    customer = make_customer(client)
    factory.instance(customer.tenant, ghost, name="blog")
    token = _csrf(client, ghost)
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        headers={**HX, "X-CSRFToken": token},
        data={"name": "blog", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    assert "already exists" in resp.get_data(as_text=True)


def test_viewers_cannot_deploy(client, make_customer, ghost):
    make_customer(client, role="viewer")
    token = _csrf(client, ghost)
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        data={"csrf_token": token, "name": "blog", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    assert resp.status_code == 403


def test_a_template_variable_nobody_can_fill_refuses_the_deploy_up_front(
    client, make_customer, factory
):
    make_customer(client)
    config = {
        "services": {
            "s1": {
                "name": "app",
                "variables": {
                    "LICENSE_KEY": {"description": "required by the app", "isOptional": False}
                },
            }
        }
    }
    broken = factory.template(
        name="Broken", serialized_config=config, setup_config={"variables": []}
    )
    before = _counts()
    resp = client.post(
        f"/templates/{broken.id}/deploy", data={"csrf_token": _csrf(client, broken), "name": "app"}
    )
    assert "tell support" in resp.get_data(as_text=True)
    assert _counts() == before
