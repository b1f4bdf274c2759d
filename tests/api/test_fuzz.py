"""Schemathesis fuzzes every operation of the OpenAPI document against the running app (a
real HTTP server; data really commits, and is truncated after), authenticated with a
personal token of a platform admin in a seeded workspace, so every route is reachable.

The checks are all of Schemathesis' own: no 5xx anywhere, and every answer conforms to the
document (status, content type, headers, body schema), for valid and invalid input alike,
plus its checks of authentication, unsupported methods and Allow headers. The run is
deterministic (a fixed seed) and bounded: FUZZ_EXAMPLES examples per operation (CI keeps
the default; the run takes a minute or two). Schemathesis runs as its own CLI in a
subprocess, exactly as a developer would run it by hand:

    st --config-file schemathesis.toml run http://127.0.0.1:5000/api/openapi.json \
        -H "Authorization: Bearer rs_live_..." --checks all
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Tenant, User
from tests.support import Factory
from tests.support.api import make_token
from tests.support.redis import AUTH

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))


@dataclass
class Fuzzer:
    """The fuzzing user: a platform admin. `token` acts in the seeded workspace;
    `fresh_token()` makes another admin token in a new workspace of theirs."""

    factory: Factory
    user: User
    token: str

    def fresh_token(self) -> str:
        tenant = self.factory.tenant()
        self.factory.member(tenant, self.user, "owner")
        return make_token(self.user, tenant, ("admin",), name="fuzzer", days=1)[0]


CONFIG = """
[generation]
# NUL is refused everywhere, on purpose and with 400 (railsaas/input_guard.py), though no
# schema can say so; tests/api/test_bad_input.py sends it to every field instead.
allow-x00 = false

[checks.positive_data_acceptance]
# Valid by the schema yet refused by a rule a schema cannot express (a password's strength
# in UTF-8 bytes, an email's syntax by RFC): 422 is the right answer there.
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

[[operations]]
include-operation-id = "stripe_webhook"
# Only Stripe can sign a delivery: every other well-formed one is refused, with 400.
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]
"""


@pytest.fixture
def fuzzer(committed_factory, redis_conn, railway_emulator, stripe_emulator):
    """A platform admin's admin token, in a workspace on a plan with a template it may
    deploy and a running instance; Railway and Stripe are the emulators."""
    factory = committed_factory
    plan = factory.plan(max_instances=50, allowed_tiers=["starter", "standard", "pro"])
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = factory.template(
        setup_config={
            "variables": [{"name": "ADMIN_EMAIL", "label": "Admin email", "required": True}]
        }
    )
    factory.instance(tenant, template, config={"ADMIN_EMAIL": "a@example.com"})
    secret, _ = make_token(user, tenant, ("admin",), name="fuzzer", days=1)
    yield Fuzzer(factory=factory, user=user, token=secret)
    # The fuzzer signs in with made-up emails: its failures must not lock later tests out.
    redis_conn.forget(AUTH)


def _schemathesis(api_server: str, token: str, tmp_path, *selection: str) -> str:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{api_server}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261210",
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
        *selection,
    ]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    print(output)  # shown with -s, or by pytest when the test fails
    assert done.returncode == 0, output[-20000:]
    return output


# Operations that can take the fuzzer's own credential away (its token revoked, its
# workspace deleted or left): once one has, every later operation would only see 401s.
SELF_DESTRUCTIVE = ("tokens_revoke", "workspaces_delete", "workspaces_leave", "members_delete")


def _only(*operation_ids: str) -> list[str]:
    return [arg for op in operation_ids for arg in ("--include-operation-id", op)]


def _except(*operation_ids: str) -> list[str]:
    return [arg for op in operation_ids for arg in ("--exclude-operation-id", op)]


@pytest.mark.timeout(900)
def test_fuzzing_finds_no_server_error_and_no_deviation_from_the_document(
    app, api_server, fuzzer, tmp_path
):
    from railsaas.blueprints.api.openapi import document

    present = {op["operationId"] for ops in document(app)["paths"].values() for op in ops.values()}
    last = [op for op in SELF_DESTRUCTIVE if op in present]
    _schemathesis(api_server, fuzzer.token, tmp_path, *_except(*last))
    for op in last:  # each with a credential and a workspace of its own
        _schemathesis(api_server, fuzzer.fresh_token(), tmp_path, *_only(op))
