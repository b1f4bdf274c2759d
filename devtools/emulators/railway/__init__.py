"""A local stand-in for Railway's public GraphQL API, for `make dev` and the tests.

Run it:  python -m devtools.emulators.railway --port 4010 [--token T] [--deploy-seconds 30]
         [--latency-ms 0] [--error-rate 0.0] ...   (--help lists every switch)
Or in-process: `EmulatorServer(port=0, token=..., deploy_seconds=1).start()`.

GraphQL: POST /graphql/v2, the operations RailSaaS sends (railsaas/railway/operations/), on a
schema (schema.graphql) that agrees with Railway's own for every type and field it declares.
- Auth: `Authorization: Bearer <token>`; a wrong or missing token gets HTTP 200 with a
  GraphQL "Not Authorized" error per root field; `template` needs no auth. With no --token
  configured, any non-empty Bearer token passes.
- Rate limits: X-RateLimit-Limit / -Remaining / -Reset (epoch seconds) on every GraphQL
  response; past `rate_per_hour` (fixed hourly window) or `rate_per_second`, HTTP 429 with
  Retry-After (integer seconds).
- State (world.py): projects with a `production` environment; templateDeployV2 answers at
  once and its workflow (Running -> Complete, Error when a required variable has no
  `value`: defaultValue is not filled in) creates the template's services one by one while
  it runs, databases first (variables, generated `${{secret(N)}}`, service domains for
  services with ports), one deployment each. deploymentStop leaves SUCCESS with
  deploymentStopped; REMOVED cannot be redeployed. Pessimistic by design: see
  docs/railway.md for what is assumed and why. Deployments go QUEUED ->
  INITIALIZING -> BUILDING -> DEPLOYING -> SUCCESS over deploy_seconds (+- jitter); build
  and runtime logs with RFC 3339 nanosecond timestamps (runtime logs keep growing while a
  deployment runs); metrics series and usage aggregates from the time services ran.
- The seed catalog (catalog.py): ghost, n8n, postgres, redis, mysql, mongodb, umami,
  uptime-kuma, plausible, minio, metabase, directus, strapi, wordpress.

Control API (JSON, no auth; bind to localhost): under /_emulator/
  GET  health                      {"ok": true}
  POST reset                       state, faults, request log, budget, clock, settings -> start
  GET  faults | POST faults {...}  shares: latency_ms, error_rate (+error_status),
                                   rate_limit_rate (+retry_after), timeout_rate
                                   (+timeout_seconds), html_rate (+html_status),
                                   lose_response_rate (+lose_response_operations),
                                   operations (restrict shares to these operation names),
                                   deploy_outcomes ["FAILED", "CRASHED", ...] (next deploys),
                                   deploy_fail_rate, deploy_crash_rate
  DELETE faults                    no faults at all
  POST faults/next {"fault": "error"|"rate_limit"|"timeout"|"html"|"lose_response"|"slow",
                    "times": N, "operation": "ProjectCreate"|null, "status", "message",
                    "retry_after", "seconds"}  the next N matching requests get it
  GET  requests[?operation=X&limit=N]  {"total", "by_operation", "by_status", "by_fault",
                                   "entries": [{seq, time, operation, status, fault,
                                   authorized, fields, ms}]}
  DELETE requests                  empty the request log
  GET  config | POST config {...}  deploy_seconds, deploy_jitter, workflow_seconds,
                                   log_interval, crash_after, removal_seconds, restart_seconds,
                                   certificate_seconds,
                                   rate_per_hour, rate_per_second, usage_scale, token,
                                   workspace_id, missing_project_answer ("Not Authorized" |
                                   "Project not found"), workflow_status_answer ("status" |
                                   "not_authorized")
  POST clock {"advance": seconds, "freeze": bool}  move time forward (statuses, logs, usage
                                   follow); frozen, only "advance" moves it
  GET  state                       projects, services, deployments and their statuses
  POST projects {"count", "prefix"}  that many empty projects (a crowded workspace)
  GET  templates                   the catalog, serializedConfig included
  POST deployments/<id> {"status": "CRASHED"}   force a deployment's status from now on
  POST domains/<domain>/dns {"records": {"CNAME": value, "TXT": value}}  what the customer's
                                   DNS answers: a record is propagated only with the value
                                   Railway asked for; the domain is verified once all are
  POST domains/<domain>/verify     every record set as asked (verified); the certificate is
                                   ISSUING for certificate_seconds, then VALID
  POST apps/<domain> {"status"|"timeout"}, DELETE apps/<domain>, GET apps
                                   how a service domain answers (apps.py): requests with a
                                   service domain as Host get its app's answer

`control.EmulatorControl` wraps these for Python. The pytest fixture `railway_emulator`
(tests/conftest.py) runs one server per session, resets it before each test, points the
app's RAILWAY_API_URL / RAILWAY_API_TOKEN / RAILWAY_WORKSPACE_ID at it and yields an
EmulatorControl with `.graphql_url`, `.token` and `.workspace_id` set.
"""

from devtools.emulators.railway.control import EmulatorControl
from devtools.emulators.railway.faults import FaultConfig
from devtools.emulators.railway.server import EmulatorServer

__all__ = ["EmulatorControl", "EmulatorServer", "FaultConfig"]
