"""The Railway client against the emulator over real HTTP: every operation it sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from railsaas.railway import (
    InvalidRequest,
    MissingVariables,
    NotFound,
    RailwayClient,
    Unauthorized,
    fill_variables,
    instance_status,
)


def deploy(rw, emulator, code: str, values: dict | None = None, name: str | None = None):
    tpl = rw.template(code)
    project = rw.create_project(name or f"rs-{code}")
    env = project.environment("production")
    result = rw.deploy_template(
        tpl.id,
        fill_variables(tpl.serialized_config, values or {}),
        project_id=project.id,
        environment_id=env.id,
    )
    # The answer comes at once; the services appear while the workflow runs.
    emulator.advance(emulator.config()["workflow_seconds"])
    return rw.project(project.id), env, result


def settle(railway_emulator, seconds: float = 2.0) -> None:
    railway_emulator.advance(seconds)


def test_template_lookup_returns_serialized_config_and_is_sent_without_auth(rw, railway_emulator):
    tpl = rw.template("directus")
    assert tpl.code == "directus"
    assert tpl.name == "Directus"
    assert tpl.status == "PUBLISHED"
    names = {svc["name"] for svc in tpl.serialized_config["services"].values()}
    assert names == {"Directus", "Postgres", "Redis"}
    by_name = {v.name: v for v in tpl.variables() if v.service_name == "Directus"}
    assert by_name["ADMIN_EMAIL"].needs_input
    assert by_name["ADMIN_PASSWORD"].generated
    assert not by_name["ADMIN_PASSWORD"].needs_input
    entry = railway_emulator.requests()["entries"][-1]
    assert entry["operation"] == "TemplateByCode"
    assert entry["authorized"] is False


def test_template_lookup_works_without_any_token(railway_emulator):
    with RailwayClient(api_url=railway_emulator.graphql_url, token="") as anonymous:
        assert anonymous.template("n8n").name == "n8n"
        with pytest.raises(Unauthorized):
            anonymous.project("whatever")


def test_unknown_template_is_not_found(rw):
    with pytest.raises(NotFound):
        rw.template("no-such-template")


def test_fill_variables_sets_values_and_names_what_is_missing(rw):
    tpl = rw.template("minio")
    with pytest.raises(MissingVariables) as err:
        fill_variables(tpl.serialized_config, {})
    assert err.value.names == ["MinIO.MINIO_ROOT_USER"]
    filled = fill_variables(tpl.serialized_config, {"MinIO.MINIO_ROOT_USER": "admin"})
    (svc,) = filled["services"].values()
    assert svc["variables"]["MINIO_ROOT_USER"]["value"] == "admin"
    assert (
        "value"
        not in next(iter(tpl.serialized_config["services"].values()))["variables"][
            "MINIO_ROOT_USER"
        ]
    )  # the template's own config is untouched


@pytest.mark.parametrize("answer", ["Not Authorized", "Project not found"])
def test_project_create_get_and_delete(rw, railway_emulator, answer):
    railway_emulator.configure(missing_project_answer=answer)
    project = rw.create_project("rs-create", description="an instance")
    assert project.name == "rs-create"
    assert project.workspace_id == railway_emulator.workspace_id
    assert [e.name for e in project.environments] == ["production"]
    assert project.services == ()
    assert rw.project(project.id).id == project.id
    assert rw.find_project("rs-create").id == project.id
    assert rw.delete_project(project.id) is True
    with pytest.raises(Unauthorized if answer == "Not Authorized" else NotFound):
        rw.project(project.id)
    assert rw.delete_project(project.id) is True  # already gone counts as deleted
    assert rw.delete_project("never-was") is True
    assert rw.find_project("rs-create") is None


def test_projects_are_listed_page_by_page(rw, railway_emulator):
    for i in range(5):
        rw.create_project(f"rs-page-{i}")
    names = {p.name for p in rw.projects(page_size=2)}
    assert names == {f"rs-page-{i}" for i in range(5)}
    assert railway_emulator.count("Projects") == 3


def test_template_deploy_creates_services_and_the_workflow_completes(rw, railway_emulator):
    project, env, result = deploy(rw, railway_emulator, "umami")
    assert result.project_id == project.id
    assert result.workflow_id
    assert {s.name for s in project.services} == {"Umami", "Postgres"}
    settle(railway_emulator, 0.5)
    status = rw.workflow_status(result.workflow_id)
    assert status.complete
    assert status.error is None
    assert rw.workflow_status("no-such-workflow").status == "NotFound"


def test_workflow_ends_in_error_when_a_required_variable_has_no_value(rw, railway_emulator):
    tpl = rw.template("directus")
    project = rw.create_project("rs-directus")
    result = rw.deploy_template(tpl.id, tpl.serialized_config, project_id=project.id)
    settle(railway_emulator, 0.5)
    status = rw.workflow_status(result.workflow_id)
    assert status.failed
    assert "Directus.ADMIN_EMAIL" in status.error
    assert rw.project(project.id).services == ()


def test_a_deployment_moves_through_its_statuses_to_success(rw, railway_emulator):
    railway_emulator.configure(deploy_seconds=20)
    project, env, _ = deploy(rw, railway_emulator, "uptime-kuma")
    (svc,) = project.services
    seen = []
    for step in (0, 3, 4, 8, 8):  # 0 s, 3 s, 7 s, 15 s, 23 s of a 20 s deploy
        settle(railway_emulator, step)
        seen.append(rw.latest_deployment(env.id, svc.id).status)
    assert seen == ["QUEUED", "INITIALIZING", "BUILDING", "DEPLOYING", "SUCCESS"]
    assert [instance_status(s, "deploying") for s in seen] == ["deploying"] * 4 + ["running"]


def test_latest_deployment_of_an_unknown_service_is_not_found(rw):
    project = rw.create_project("rs-empty")
    with pytest.raises(NotFound):
        rw.latest_deployment(project.environments[0].id, "no-such-service")


def test_statuses_of_many_services_come_in_one_request_per_batch(rw, railway_emulator):
    pairs = []
    for code in ("plausible", "directus"):
        project, env, _ = deploy(
            rw, railway_emulator, code, {"ADMIN_EMAIL": "a@example.com"}, f"rs-b-{code}"
        )
        pairs += [(env.id, s.id) for s in project.services]
    assert len(pairs) == 6
    settle(railway_emulator)
    before = railway_emulator.count("ServiceStatuses")
    statuses = rw.service_statuses(pairs, batch_size=4)
    assert railway_emulator.count("ServiceStatuses") - before == 2
    assert set(statuses) == set(pairs)
    assert {s.latest.status for s in statuses.values()} == {"SUCCESS"}
    entries = railway_emulator.requests("ServiceStatuses", limit=2)["entries"]
    assert [e["fields"] for e in entries] == [4, 2]

    ids = [s.latest.id for s in statuses.values()]
    before = railway_emulator.count("DeploymentStatuses")
    deployments = rw.deployment_statuses(ids)  # default batch size: all in one
    assert railway_emulator.count("DeploymentStatuses") - before == 1
    assert {d.id for d in deployments.values()} == set(ids)


def test_unknown_ids_in_a_batch_map_to_none_and_the_rest_still_answer(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "n8n")
    pairs = [(env.id, s.id) for s in project.services]
    statuses = rw.service_statuses([*pairs, (env.id, "gone-service")])
    assert statuses[(env.id, "gone-service")] is None
    assert all(statuses[p].latest is not None for p in pairs)
    ids = [statuses[p].latest.id for p in pairs]
    deployments = rw.deployment_statuses(["gone-1", *ids, "gone-2"])
    assert deployments["gone-1"] is None
    assert deployments["gone-2"] is None
    assert all(deployments[i].id == i for i in ids)
    assert rw.deployment(ids[0]).id == ids[0]
    with pytest.raises(NotFound):
        rw.deployment("gone-1")


def test_build_and_runtime_logs_are_incremental_from_a_timestamp(rw, railway_emulator):
    railway_emulator.freeze()  # exactly 2 s pass below, however slow the machine
    project, env, _ = deploy(rw, railway_emulator, "uptime-kuma")
    dep = rw.latest_deployment(env.id, project.services[0].id)
    settle(railway_emulator, 1.5)
    build = rw.build_logs(dep.id)
    assert build
    assert "Initializing build" in build[0].message
    assert [ln.timestamp for ln in build] == sorted(ln.timestamp for ln in build)

    first = rw.deployment_logs(dep.id, limit=1000)
    assert first[0].message == "Starting Container"
    assert first[-1].timestamp
    assert first[-1].raw_timestamp.endswith("000Z")  # nanosecond timestamps parse
    settle(railway_emulator, 2.0)  # runtime logs keep growing while it runs
    newer = rw.deployment_logs(dep.id, since=first[-1].timestamp)
    assert newer
    assert all(ln.timestamp > first[-1].timestamp for ln in newer)
    assert len(newer) == 10  # a line every 0.2 s
    page = rw.deployment_logs(dep.id, since=first[-1].timestamp, limit=3)
    assert page == newer[:3]
    assert len(rw.deployment_logs(dep.id, limit=4)) == 4
    assert all(ln.severity == "info" for ln in newer)


def test_redeploy_restart_stop_and_remove(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "redis")
    (svc,) = project.services
    settle(railway_emulator)
    first = rw.latest_deployment(env.id, svc.id)
    assert first.status == "SUCCESS"
    assert first.can_redeploy

    assert rw.restart_deployment(first.id) is True
    assert rw.deployment(first.id).status == "SUCCESS"

    second = rw.redeploy_deployment(first.id)
    assert second.id != first.id
    assert second.status == "QUEUED"
    settle(railway_emulator)
    assert rw.deployment(second.id).status == "SUCCESS"
    assert rw.deployment(first.id).status == "REMOVED"  # superseded
    assert rw.latest_deployment(env.id, svc.id).id == second.id

    # Stopped, a deployment stays SUCCESS with deploymentStopped (as the CLI shows it).
    assert rw.stop_deployment(second.id) is True
    stopped = rw.deployment(second.id)
    assert stopped.stopped
    assert stopped.status == "SUCCESS"
    assert instance_status(stopped.status, "stopping", stopped=stopped.stopped) == "stopped"
    assert instance_status(stopped.status, "starting", stopped=stopped.stopped) == "starting"
    assert stopped.can_redeploy

    assert rw.redeploy_service(env.id, svc.id) is True
    third = rw.latest_deployment(env.id, svc.id)
    assert third.id not in (first.id, second.id)
    settle(railway_emulator)
    assert rw.remove_deployment(third.id) is True
    settle(railway_emulator, 0.5)
    removed = rw.deployment(third.id)
    assert removed.status == "REMOVED"
    assert not removed.can_redeploy  # REMOVED: start again from the service instead
    with pytest.raises(InvalidRequest):
        rw.redeploy_deployment(third.id)
    fourth = rw.deploy_service(env.id, svc.id)
    assert rw.latest_deployment(env.id, svc.id).id == fourth


def test_restarting_a_deployment_that_is_not_running_is_an_invalid_request(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "redis")
    dep = rw.latest_deployment(env.id, project.services[0].id)
    with pytest.raises(InvalidRequest, match="Cannot restart"):
        rw.restart_deployment(dep.id)
    assert railway_emulator.count("DeploymentRestart") == 1  # not retried


def test_variables_are_read_rendered_or_raw_and_upserts_redeploy(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "umami")
    umami = next(s for s in project.services if s.name == "Umami")
    raw = rw.variables(project.id, env.id, umami.id, unrendered=True)
    assert raw["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}"
    assert len(raw["APP_SECRET"]) == 64  # ${{secret(64)}} was generated at deploy
    rendered = rw.variables(project.id, env.id, umami.id)
    assert rendered["DATABASE_URL"].startswith("postgresql://postgres:")
    assert "postgres.railway.internal:5432/railway" in rendered["DATABASE_URL"]
    assert rendered["RAILWAY_SERVICE_NAME"] == "Umami"

    before = rw.latest_deployment(env.id, umami.id).id
    assert (
        rw.upsert_variables(
            project.id, env.id, {"DISABLE_TELEMETRY": "0", "NEW": 1}, service_id=umami.id
        )
        is True
    )
    assert rw.variables(project.id, env.id, umami.id)["NEW"] == "1"
    assert rw.latest_deployment(env.id, umami.id).id != before  # the change redeploys
    quiet = rw.latest_deployment(env.id, umami.id).id
    rw.upsert_variables(
        project.id, env.id, {"ONLY": "this"}, service_id=umami.id, replace=True, skip_deploys=True
    )
    assert rw.variables(project.id, env.id, umami.id, unrendered=True) == {"ONLY": "this"}
    assert rw.latest_deployment(env.id, umami.id).id == quiet
    rw.upsert_variables(project.id, env.id, {"SHARED": "yes"}, skip_deploys=True)
    assert rw.variables(project.id, env.id) == {"SHARED": "yes"}


def test_service_and_custom_domains(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "ghost")
    ghost = next(s for s in project.services if s.name == "Ghost")
    existing = rw.domains(project.id, env.id, ghost.id)
    assert len(existing.service_domains) == 1  # the template asked for one
    domain = rw.create_service_domain(env.id, ghost.id, target_port=2368)
    assert domain.domain.endswith(".up.railway.app")
    assert domain.target_port == 2368

    custom = rw.create_custom_domain(project.id, env.id, ghost.id, "Blog.Example.com")
    assert custom.domain == "blog.example.com"
    assert not custom.verified
    cname = next(r for r in custom.dns_records if r.type_name == "CNAME")
    assert cname.hostlabel == "blog"
    assert cname.zone == "example.com"
    assert cname.required_value.endswith(".up.railway.app")
    assert cname.status == "DNS_RECORD_STATUS_REQUIRES_UPDATE"
    txt = next(r for r in custom.dns_records if r.type_name == "TXT")
    assert txt.required_value == custom.verification_token

    # A wrong CNAME (the service domain) leaves everything pending; Railway's value verifies
    # that record, and the domain once every record is right.
    railway_emulator.set_domain_dns("blog.example.com", {"CNAME": domain.domain})
    (wrong,) = rw.domains(project.id, env.id, ghost.id).custom_domains
    assert not wrong.verified
    assert {r.status for r in wrong.dns_records} == {"DNS_RECORD_STATUS_REQUIRES_UPDATE"}
    railway_emulator.set_domain_dns("blog.example.com", {"CNAME": cname.required_value})
    batched = rw.custom_domain_statuses([(project.id, env.id, ghost.id), ("p", "e", "s")])
    (half,) = batched[(project.id, env.id, ghost.id)]
    assert batched[("p", "e", "s")] is None  # Railway does not know that service
    assert {r.type_name: r.status for r in half.dns_records} == {
        "CNAME": "DNS_RECORD_STATUS_PROPAGATED",
        "TXT": "DNS_RECORD_STATUS_REQUIRES_UPDATE",
    }
    assert not half.verified
    assert half.certificate_status == "CERTIFICATE_STATUS_TYPE_VALIDATING_OWNERSHIP"

    railway_emulator.verify_domain("blog.example.com")
    (verified,) = rw.domains(project.id, env.id, ghost.id).custom_domains
    assert verified.verified
    assert verified.certificate_status == "CERTIFICATE_STATUS_TYPE_ISSUING"
    railway_emulator.advance(60)
    (issued,) = rw.domains(project.id, env.id, ghost.id).custom_domains
    assert issued.certificate_status == "CERTIFICATE_STATUS_TYPE_VALID"
    with pytest.raises(InvalidRequest, match="already in use"):
        rw.create_custom_domain(project.id, env.id, ghost.id, "blog.example.com")


def test_metrics_cover_cpu_memory_network_and_disk(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "n8n")
    settle(railway_emulator, 2 + 600)  # ten minutes of running
    start = datetime.now(UTC) + timedelta(seconds=60)
    series = rw.metrics(
        start=start,
        end=start + timedelta(minutes=8),
        project_id=project.id,
        group_by=["SERVICE_ID"],
    )
    assert {s.measurement for s in series} == {
        "CPU_USAGE",
        "MEMORY_USAGE_GB",
        "NETWORK_RX_GB",
        "NETWORK_TX_GB",
        "DISK_USAGE_GB",
    }
    assert {s.service_id for s in series} == {s.id for s in project.services}
    cpu = next(s for s in series if s.measurement == "CPU_USAGE")
    assert len(cpu.points) == 16  # every 30 s over 8 minutes (the CLI's rate for <= 1 h)
    assert all(0 < p.value < 1 for p in cpu.points)
    whole = rw.metrics(
        start=start,
        end=start + timedelta(minutes=8),
        project_id=project.id,
        measurements=["MEMORY_USAGE_GB"],
        sample_rate_seconds=60,
    )
    assert len(whole) == 1
    assert whole[0].service_id is None
    assert len(whole[0].points) == 8


def test_usage_and_estimated_usage(rw, railway_emulator):
    project, env, _ = deploy(rw, railway_emulator, "postgres")
    other, _, _ = deploy(rw, railway_emulator, "redis", name="rs-other")
    settle(railway_emulator, 2 + 3600)
    since = datetime.now(UTC) - timedelta(minutes=5)  # explicit: month ends make no flakes
    usage = rw.usage(project_id=project.id, start=since)
    by = {u.measurement: u for u in usage}
    assert by["CPU_USAGE"].project_id == project.id
    assert by["CPU_USAGE"].service_id == project.services[0].id
    assert 5 < by["MEMORY_USAGE_GB"].value < 30  # 0.15-0.4 GB for ~60 minutes
    assert by["DISK_USAGE_GB"].value > 0  # Postgres has a volume
    workspace = rw.usage(start=since, group_by=["PROJECT_ID"])
    assert {u.project_id for u in workspace} == {project.id, other.id}

    rw.delete_project(other.id)
    after = rw.usage(start=since, group_by=["PROJECT_ID"])
    assert {u.project_id for u in after} == {project.id, other.id}  # deleted ones were billed
    estimates = rw.estimated_usage(project_id=project.id)
    cpu = next(e for e in estimates if e.measurement == "CPU_USAGE")
    assert cpu.project_id == project.id
    assert cpu.estimated_value >= by["CPU_USAGE"].value


def test_deployments_can_be_made_to_fail_or_crash(rw, railway_emulator):
    railway_emulator.freeze()  # the crash comes exactly when the test moves the clock
    railway_emulator.set_faults(deploy_outcomes=["FAILED", "CRASHED"])
    project, env, _ = deploy(rw, railway_emulator, "mysql")
    failed = rw.latest_deployment(env.id, project.services[0].id)
    other, env2, _ = deploy(rw, railway_emulator, "redis", name="rs-crash")
    crashing = rw.latest_deployment(env2.id, other.services[0].id)
    settle(railway_emulator, 1.2)
    assert rw.deployment(failed.id).status == "FAILED"
    assert "ERROR" in rw.build_logs(failed.id)[-1].message
    assert rw.deployment(crashing.id).status == "SUCCESS"
    settle(railway_emulator, 0.6)
    assert rw.deployment(crashing.id).status == "CRASHED"
    assert instance_status("CRASHED", "running") == "crashed"
    assert rw.deployment_logs(crashing.id)[-1].severity == "error"
    railway_emulator.configure(restart_seconds=2)
    rw.restart_deployment(crashing.id)
    assert rw.deployment(crashing.id).status == "CRASHED"  # until the container is back
    settle(railway_emulator, 2.1)
    assert rw.deployment(crashing.id).status == "SUCCESS"


def test_a_wrong_token_is_unauthorized_and_not_retried(railway_emulator):
    with RailwayClient(
        api_url=railway_emulator.graphql_url, token="wrong-token", backoff_base=0.01
    ) as bad:
        with pytest.raises(Unauthorized, match="Not Authorized"):
            bad.create_project("rs-nope")
        with pytest.raises(Unauthorized):
            bad.service_statuses([("e", "s1"), ("e", "s2")])
    assert railway_emulator.count("ProjectCreate") == 1
    assert railway_emulator.count("ServiceStatuses") == 1


def test_bad_variables_are_an_invalid_request_and_not_retried(rw, railway_emulator):
    with pytest.raises(InvalidRequest) as err:
        rw.execute("Project", {"id": 42})
    assert err.value.status == 400
    assert railway_emulator.count("Project") == 1


def test_a_full_tour_sends_every_operation_in_the_operations_folder(rw, railway_emulator):
    """A guard: an operation added to operations/ without a client method or an emulator
    resolver fails here."""
    from railsaas.railway.documents import operation_names

    project, env, result = deploy(rw, railway_emulator, "uptime-kuma", name="rs-tour")
    (svc,) = project.services
    rw.projects()
    rw.workflow_status(result.workflow_id)
    settle(railway_emulator)
    dep = rw.latest_deployment(env.id, svc.id)
    rw.deployment(dep.id)
    rw.deployment_statuses([dep.id])
    rw.service_statuses([(env.id, svc.id)])
    rw.deployment_logs(dep.id)
    rw.build_logs(dep.id)
    rw.restart_deployment(dep.id)
    new = rw.redeploy_deployment(dep.id)
    settle(railway_emulator)
    rw.redeploy_service(env.id, svc.id)
    rw.deploy_service(env.id, svc.id)
    rw.stop_deployment(new.id)
    rw.remove_deployment(new.id)
    rw.variables(project.id, env.id, svc.id)
    rw.upsert_variables(project.id, env.id, {"A": "b"}, service_id=svc.id, skip_deploys=True)
    rw.create_service_domain(env.id, svc.id)
    rw.create_custom_domain(project.id, env.id, svc.id, "status.example.org")
    rw.domains(project.id, env.id, svc.id)
    rw.custom_domain_statuses([(project.id, env.id, svc.id)])
    rw.metrics(start=datetime.now(UTC) - timedelta(hours=1), project_id=project.id)
    rw.usage(project_id=project.id)
    rw.estimated_usage(project_id=project.id)
    history = list(rw.deployments(env.id, svc.id, page_size=2))  # walks the pages
    stamps = [d.created_at for d in history]
    assert len(stamps) >= 3  # the first deploy, the redeploy, the service's own deploys
    assert stamps == sorted(stamps, reverse=True)
    extra = rw.create_service(project.id, name="tour-extra", image="nginx:1.27")
    assert extra.name == "tour-extra"
    assert rw.check_token()
    rw.delete_project(project.id)
    seen = railway_emulator.requests()["by_operation"]
    assert set(operation_names()) <= set(seen), set(operation_names()) - set(seen)
    assert set(railway_emulator.requests()["by_status"]) == {"200"}
