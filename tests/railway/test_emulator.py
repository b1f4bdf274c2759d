"""The Railway emulator as any HTTP client sees it: protocol, limits, faults, control API."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from devtools.demo_catalog import seed_templates
from devtools.embedded import free_port
from devtools.emulators.railway import EmulatorControl
from railsaas.railway import Unauthorized, fill_variables
from railsaas.railway.documents import operation

TEMPLATE = operation("TemplateByCode").text
PROJECT = operation("Project").text


def gql(emulator, query: str, variables=None, token: str | None = "default", name=None):
    headers = {}
    if token == "default":
        token = emulator.token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"query": query, "variables": variables or {}}
    if name:
        body["operationName"] = name
    return httpx.post(emulator.graphql_url, json=body, headers=headers, timeout=10)


def test_the_catalog_holds_real_marketplace_templates():
    templates = {t["code"]: t for t in seed_templates()}
    assert len(templates) >= 12
    assert {
        "ghost",
        "n8n",
        "postgres",
        "redis",
        "umami",
        "uptime-kuma",
        "plausible",
        "minio",
        "metabase",
        "directus",
        "strapi",
        "wordpress",
    } <= set(templates)
    needs_input = generated = 0
    for tpl in templates.values():
        services = tpl["serializedConfig"]["services"]
        assert services
        assert tpl["status"] == "PUBLISHED"
        for svc in services.values():
            assert svc["name"]
            assert svc["source"]["image"]
            for spec in svc["variables"].values():
                assert set(spec) <= {"defaultValue", "description", "isOptional"}
                if not spec.get("defaultValue") and not spec["isOptional"]:
                    needs_input += 1
                if "${{secret(" in spec.get("defaultValue", ""):
                    generated += 1
    assert needs_input >= 2
    assert generated >= 10
    assert len({t["id"] for t in templates.values()}) == len(templates)


def test_every_response_carries_rate_limit_headers_and_429_past_the_budget(railway_emulator):
    railway_emulator.configure(rate_per_hour=2)
    first = gql(railway_emulator, TEMPLATE, {"code": "ghost"}, name="TemplateByCode")
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert int(first.headers["X-RateLimit-Reset"]) > time.time() + 3500
    gql(railway_emulator, TEMPLATE, {"code": "ghost"})
    limited = gql(railway_emulator, TEMPLATE, {"code": "ghost"})
    assert limited.status_code == 429
    assert 3500 < int(limited.headers["Retry-After"]) <= 3600
    assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_the_per_second_limit_answers_429_with_retry_after_one(railway_emulator):
    railway_emulator.configure(rate_per_second=3)
    # All five at once, so a slow machine cannot spread them over more than a second.
    with ThreadPoolExecutor(5) as pool:
        answers = list(
            pool.map(lambda _: gql(railway_emulator, TEMPLATE, {"code": "redis"}), range(5))
        )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 429, 429]
    assert {a.headers["Retry-After"] for a in answers if a.status_code == 429} == {"1"}


def test_a_wrong_token_gets_not_authorized_but_templates_need_none(railway_emulator):
    denied = gql(railway_emulator, PROJECT, {"id": "x"}, token="nope")
    assert denied.status_code == 200
    assert denied.json()["data"] is None
    assert denied.json()["errors"][0]["message"] == "Not Authorized"
    missing = gql(railway_emulator, PROJECT, {"id": "x"}, token=None)
    assert missing.json()["errors"][0]["message"] == "Not Authorized"
    project_token = httpx.post(
        railway_emulator.graphql_url,
        json={"query": PROJECT, "variables": {"id": "x"}},
        headers={"Project-Access-Token": "p"},
    )
    assert project_token.json()["errors"][0]["message"] == "Project Token not found"
    public = gql(railway_emulator, TEMPLATE, {"code": "ghost"}, token=None)
    assert public.json()["data"]["template"]["code"] == "ghost"


def test_invalid_documents_are_rejected_with_400(railway_emulator):
    resp = gql(railway_emulator, 'query Bad { project(id: "x") { nonsense } }')
    assert resp.status_code == 400
    error = resp.json()["errors"][0]
    assert "nonsense" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert gql(railway_emulator, "{ broken").status_code == 400
    assert httpx.post(railway_emulator.graphql_url, content=b"<xml/>").status_code == 400


@pytest.mark.parametrize("answer", ["Not Authorized", "Project not found"])
def test_unknown_ids_are_graphql_errors_with_a_path(railway_emulator, answer):
    # Railway may not say "not found" for a project the token cannot see: by default the
    # emulator answers "Not Authorized" (pessimistic); a setting picks the other.
    if answer != "Not Authorized":
        railway_emulator.configure(missing_project_answer=answer)
    resp = gql(railway_emulator, PROJECT, {"id": "missing"})
    assert resp.status_code == 200
    assert resp.json()["errors"][0]["message"] == answer
    assert resp.json()["errors"][0]["path"] == ["project"]


def test_template_services_appear_while_the_workflow_runs_database_first(rw, railway_emulator):
    railway_emulator.configure(workflow_seconds=60)
    railway_emulator.freeze()
    tpl = rw.template("ghost")
    project = rw.create_project("rs-appear")
    result = rw.deploy_template(
        tpl.id, fill_variables(tpl.serialized_config, {}), project_id=project.id
    )
    assert rw.project(project.id).services == ()  # the answer comes first
    assert rw.workflow_status(result.workflow_id).status == "Running"
    railway_emulator.advance(25)
    assert [s.name for s in rw.project(project.id).services] == ["MySQL"]
    railway_emulator.advance(20)
    assert {s.name for s in rw.project(project.id).services} == {"MySQL", "Ghost"}
    assert rw.workflow_status(result.workflow_id).status == "Running"
    railway_emulator.advance(20)
    assert rw.workflow_status(result.workflow_id).status == "Complete"
    railway_emulator.configure(workflow_status_answer="not_authorized")
    with pytest.raises(Unauthorized):
        rw.workflow_status(result.workflow_id)


def test_default_values_are_not_filled_in_by_railway(rw, railway_emulator):
    # The CLI copies each defaultValue into `value` before templateDeployV2; sent as stored,
    # the required variables have no value and the workflow fails.
    tpl = rw.template("redis")
    project = rw.create_project("rs-defaults")
    result = rw.deploy_template(tpl.id, tpl.serialized_config, project_id=project.id)
    railway_emulator.advance(1)
    status = rw.workflow_status(result.workflow_id)
    assert status.failed
    assert "Redis.REDIS_PASSWORD" in status.error
    assert rw.project(project.id).services == ()
    filled = fill_variables(tpl.serialized_config, {})
    assert (
        filled["services"][next(iter(filled["services"]))]["variables"]["REDIS_PASSWORD"]["value"]
        == "${{secret(32)}}"
    )


def test_the_server_stays_correct_under_concurrent_clients(railway_emulator):
    railway_emulator.configure(rate_per_second=10_000)
    failures: list[str] = []

    def hammer(i: int) -> None:
        with httpx.Client(timeout=10) as http:
            for j in range(10):
                resp = http.post(
                    railway_emulator.graphql_url,
                    headers={"Authorization": f"Bearer {railway_emulator.token}"},
                    json={
                        "query": operation("ProjectCreate").text,
                        "operationName": "ProjectCreate",
                        "variables": {"input": {"name": f"p-{i}-{j}"}},
                    },
                )
                if resp.status_code != 200 or "errors" in resp.json():
                    failures.append(resp.text)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert railway_emulator.count("ProjectCreate") == 100
    assert len(railway_emulator.state()["projects"]) == 100


def test_fault_shares_can_be_limited_to_some_operations(railway_emulator):
    railway_emulator.set_faults(error_rate=1.0, operations=["Project"])
    assert gql(railway_emulator, PROJECT, {"id": "x"}, name="Project").status_code == 503
    assert (
        gql(railway_emulator, TEMPLATE, {"code": "ghost"}, name="TemplateByCode").status_code == 200
    )
    railway_emulator.set_faults(error_rate=0, html_rate=1.0, operations=None)
    html = gql(railway_emulator, TEMPLATE, {"code": "ghost"})
    assert html.status_code == 502
    assert html.text.lstrip().startswith("<!DOCTYPE html>")
    railway_emulator.clear_faults()
    assert gql(railway_emulator, TEMPLATE, {"code": "ghost"}).status_code == 200
    assert railway_emulator.requests()["by_fault"] == {"error": 1, "html": 1}


def test_latency_is_added_to_every_answer(railway_emulator):
    railway_emulator.set_faults(latency_ms=200)
    started = time.monotonic()
    gql(railway_emulator, TEMPLATE, {"code": "ghost"})
    assert time.monotonic() - started >= 0.2


def test_reset_forgets_projects_faults_requests_and_settings(railway_emulator):
    gql(railway_emulator, operation("ProjectCreate").text, {"input": {"name": "x"}})
    railway_emulator.set_faults(error_rate=0.5)
    railway_emulator.configure(deploy_seconds=99)
    railway_emulator.advance(1000)
    railway_emulator.reset()
    assert railway_emulator.state()["projects"] == []
    assert railway_emulator.faults()["error_rate"] == 0
    assert railway_emulator.count() == 0
    assert railway_emulator.config()["deploy_seconds"] == 1.0


def test_a_running_deployment_can_be_forced_to_crash(rw, railway_emulator):
    tpl = rw.template("redis")
    project = rw.create_project("rs-force")
    rw.deploy_template(tpl.id, fill_variables(tpl.serialized_config, {}), project_id=project.id)
    env = project.environments[0]
    railway_emulator.advance(1)
    dep = rw.latest_deployment(env.id, rw.project(project.id).services[0].id)
    railway_emulator.advance(2)
    assert railway_emulator.force_status(dep.id, "CRASHED")["status"] == "CRASHED"
    assert rw.deployment(dep.id).status == "CRASHED"
    assert rw.usage(project_id=project.id)  # usage stops accruing but is still reported


def test_control_api_rejects_nonsense(railway_emulator):
    ctl = httpx.Client(base_url=railway_emulator.base_url + "/_emulator", timeout=5)
    assert ctl.post("/faults", json={"nonsense": 1}).status_code == 400
    assert ctl.post("/faults/next", json={"fault": "meteor"}).status_code == 400
    assert ctl.post("/config", json={"warp": 9}).status_code == 400
    assert ctl.post("/deployments/none", json={"status": "CRASHED"}).status_code == 404
    assert ctl.get("/nowhere").status_code == 404
    ctl.close()


@pytest.mark.processes
def test_the_emulator_runs_standalone_from_the_command_line():
    port = free_port()
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.emulators.railway",
            "--port",
            str(port),
            "--token",
            "cli-token",
            "--deploy-seconds",
            "0.5",
            "--latency-ms",
            "1",
            "--missing-project-answer",
            "Project not found",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        ctl = EmulatorControl(f"http://127.0.0.1:{port}")
        try:
            assert "Railway emulator on" in proc.stdout.readline()
            assert ctl.health()
            resp = httpx.post(
                f"http://127.0.0.1:{port}/graphql/v2",
                json={"query": PROJECT, "variables": {"id": "x"}},
                headers={"Authorization": "Bearer cli-token"},
                timeout=5,
            )
            assert resp.json()["errors"][0]["message"] == "Project not found"
            assert ctl.config()["deploy_seconds"] == 0.5
            assert "token" not in ctl.config()
            assert ctl.faults()["latency_ms"] == 1
        finally:
            ctl.close()
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0


@pytest.mark.processes
@pytest.mark.parametrize("flag", ["--help"])
def test_the_command_line_documents_its_switches(flag):
    out = subprocess.run(
        [sys.executable, "-m", "devtools.emulators.railway", flag],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for switch in (
        "--port",
        "--token",
        "--latency-ms",
        "--deploy-seconds",
        "--error-rate",
        "--lose-create-rate",
    ):
        assert switch in out
