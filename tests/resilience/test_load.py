"""200 concurrent users browsing and polling the app under gunicorn: not one error.

Each simulated user is signed in to a workspace of their own team and loops, with a short
pause, over what a browser does on the instance pages: the dashboard, the instance list and
its status JSON, an instance page, the htmx status badge (polled while an instance changes),
the log tail (polled while following; it reads Railway, the emulator), and the catalog.
Short form: 200 users for 8 s; long form (--runslow): 200 users for 60 s.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from railsaas.catalog.variables import apply_to_serialized
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Instance, Membership, Tenant, User
from tests.support import wait_until
from tests.support.lifecycle import railway_template
from tests.support.resilience import USER_AGENT, session_cookie

USERS = 200
MEMBERS_PER_WORKSPACE = 10
HX = {"HX-Request": "true"}
PASSWORD_HASH = "$2b$04$" + "x" * 53  # nobody signs in with a password here


@dataclass
class Team:
    cookies: list[str]
    instances: list[str]  # every instance of the workspace
    with_logs: list[str]  # running on the emulator: their logs come from Railway


@dataclass
class Tally:
    responses: Counter = field(default_factory=Counter)  # (kind, status) -> n
    errors: list[str] = field(default_factory=list)
    users_served: set = field(default_factory=set)


def _deployed_service(rc, emulator, template_code: str, name: str) -> tuple[str, str, str]:
    """A project on the emulator with the template deployed and running: (project,
    environment, service) ids, for an instance whose logs the app will read from Railway."""
    found = next(t for t in emulator.templates() if t["code"] == template_code)
    project = rc.create_project(name)
    env = project.environment() or project.environments[0]
    # As the app sends it: Railway fills nothing from `defaultValue`, the client does.
    config = apply_to_serialized(found["serializedConfig"], [], {})
    rc.deploy_template(found["id"], config, project_id=project.id, environment_id=env.id)
    service = wait_until(
        lambda: rc.project(project.id).services,
        message="services created",
        timeout=60,
        interval=0.5,
    )[0]
    return project.id, env.id, service.id


def _seed(app, factory, emulator) -> list[Team]:
    """USERS users in teams of MEMBERS_PER_WORKSPACE, each workspace with four instances:
    one running on the emulator (logs from Railway), one running that Railway never heard
    of, one deploying (its badge keeps polling) and one failed. One transaction."""
    from railsaas.railway import railway_client

    rc = railway_client(app)
    plan = factory.plan(max_instances=50)
    template = railway_template(emulator, factory, "redis")
    services = [
        _deployed_service(rc, emulator, "redis", f"load-{w}")
        for w in range(USERS // MEMBERS_PER_WORKSPACE)
    ]
    teams = []
    with db.scope(SYSTEM) as s:
        for w, (project_id, env_id, service_id) in enumerate(services):
            tenant = Tenant(
                name=f"Load {w}", slug=f"load-{w}-{uuid.uuid4().hex[:6]}", plan_id=plan.id
            )
            users = [
                User(
                    email=f"load{w}-{m}-{uuid.uuid4().hex[:6]}@example.com",
                    name=f"Load {w}.{m}",
                    email_verified=True,
                    password_hash=PASSWORD_HASH,
                )
                for m in range(MEMBERS_PER_WORKSPACE)
            ]
            s.add_all([tenant, *users])
            s.flush()
            s.add_all(
                [
                    Membership(
                        tenant_id=tenant.id, user_id=u.id, role="owner" if m == 0 else "member"
                    )
                    for m, u in enumerate(users)
                ]
            )
            instances = [
                Instance(
                    tenant_id=tenant.id,
                    template_id=template.id,
                    name="cache",
                    status="running",
                    config={},
                    railway_project_id=project_id,
                    railway_environment_id=env_id,
                    railway_service_id=service_id,
                    domain=f"cache-{w}.example",
                ),
                *(
                    Instance(
                        tenant_id=tenant.id,
                        template_id=template.id,
                        name=name,
                        status=status,
                        config={},
                    )
                    for name, status in (
                        ("web", "running"),
                        ("worker", "deploying"),
                        ("broken", "failed"),
                    )
                ),
            ]
            s.add_all(instances)
            s.flush()
            teams.append(
                Team(
                    cookies=[session_cookie(app, u, tenant.id) for u in users],
                    instances=[str(i.id) for i in instances],
                    with_logs=[str(instances[0].id)],
                )
            )
    return teams


def _requests(team: Team) -> list[tuple[str, str, dict, int]]:
    """(kind, path, headers, weight): what a browser on these pages asks for."""
    reqs = [
        ("dashboard", "/dashboard", {}, 1),
        ("instance list", "/instances/", {}, 2),
        ("status json", "/instances/status", {}, 3),
        ("catalog", "/templates/", {}, 1),
    ]
    for iid in team.instances:
        reqs += [
            ("status partial", f"/instances/{iid}/status", HX, 3),
            ("instance page", f"/instances/{iid}", {}, 1),
        ]
    for iid in team.with_logs:
        reqs.append(("logs partial", f"/instances/{iid}/logs?tail=1&follow=1", HX, 4))
    return reqs


# A settled instance's badge answers 286 (htmx: stop polling); everything else is a 200.
EXPECTED = {"status partial": {200, 286}}


async def _user(
    client: httpx.AsyncClient, n: int, cookie: str, team: Team, stop_at: float, tally: Tally
) -> None:
    rng = random.Random(n)
    reqs = _requests(team)
    choices, weights = [r[:3] for r in reqs], [r[3] for r in reqs]
    await asyncio.sleep(rng.uniform(0, 1.0))  # users arrive over the first second
    while time.monotonic() < stop_at:
        kind, path, headers = rng.choices(choices, weights)[0]
        try:
            resp = await client.get(path, headers={**headers, "Cookie": cookie})
        except httpx.HTTPError as exc:
            tally.errors.append(f"{kind} {path}: {type(exc).__name__}: {exc}")
        else:
            tally.responses[(kind, resp.status_code)] += 1
            tally.users_served.add(n)
            if resp.status_code not in EXPECTED.get(kind, {200}):
                tally.errors.append(f"{kind} {path}: HTTP {resp.status_code} {resp.text[:200]!r}")
        await asyncio.sleep(rng.uniform(0.1, 0.6))


async def _run(url: str, teams: list[Team], seconds: float) -> Tally:
    tally = Tally()
    # One connection per request (no keep-alive): a reused connection the server closed
    # while idle would be a client-side race, not an error of the app.
    limits = httpx.Limits(max_connections=USERS + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=url,
        limits=limits,
        follow_redirects=False,
        timeout=httpx.Timeout(120.0, connect=60.0),
        headers={"User-Agent": USER_AGENT},
    ) as client:
        stop_at = time.monotonic() + seconds
        users = [(cookie, team) for team in teams for cookie in team.cookies]
        await asyncio.gather(
            *(
                _user(client, n, cookie, team, stop_at, tally)
                for n, (cookie, team) in enumerate(users)
            )
        )
    return tally


def test_200_users_browsing_and_polling_get_no_errors(
    app, committed_factory, railway_emulator, stack, long_form
):
    teams = _seed(app, committed_factory, railway_emulator)
    assert sum(len(t.cookies) for t in teams) == USERS

    seconds = 60.0 if long_form else 8.0
    # On a thread of its own: the browser tests' Playwright (sync API) leaves an event loop
    # running on the main thread for the rest of the session.
    with ThreadPoolExecutor(max_workers=1) as pool:
        tally = pool.submit(asyncio.run, _run(stack.url, teams, seconds)).result()

    total = sum(tally.responses.values())
    by_kind, by_status = Counter(), Counter()
    for (kind, status), n in tally.responses.items():
        by_kind[kind] += n
        by_status[status] += n
    print(
        f"\nload: {USERS} users for {seconds:.0f} s: {total} responses, "
        f"{dict(by_status)}, {dict(by_kind)}"
    )
    assert not tally.errors, (
        f"{len(tally.errors)} errors in {total} requests:\n"
        + "\n".join(tally.errors[:20])
        + "\n"
        + stack.web.tail()
    )
    # The load really happened: every user was served, every kind of request was made, and
    # the logs partial really read Railway (the emulator saw log queries).
    assert tally.users_served == set(range(USERS))
    assert set(by_kind) == {
        "dashboard",
        "instance list",
        "status json",
        "catalog",
        "status partial",
        "instance page",
        "logs partial",
    }
    assert railway_emulator.count("DeploymentLogs") > 0
    assert stack.web.alive()
