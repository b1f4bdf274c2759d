"""Instances: a customer's running copy of a template, from request to deletion.

- `lifecycle`: the business rules every entry point calls (deploy, actions, variables,
  domains, suspending a whole workspace); they write rows and outbox entries, never call
  Railway.
- `admission`: what a workspace's plan and billing hold allow to run.
- `states`: the state machine; every status change goes through it.
- Doing it on Railway, from Celery tasks (railsaas.tasks.instances):
  - `steps`: running one step (deploy, redeploy, stop, delete, ...), idempotently, and
    naming an instance's Railway project;
  - `lock`: the per-instance lock, so two steps of one instance never run at once;
  - `poll`: the batched poll that watches Railway and applies what it reports, the deploy
    timeout, and the refresh a Railway webhook asks for;
  - `cadence`: how fresh a status is kept (when the poll next looks at an instance);
  - `reconcile`: Railway's projects compared with our instances, and the admins' fixes.
  Imports point one way: lock, cadence, domains <- steps <- poll; steps <- reconcile.
- `insights`: logs and metrics read from Railway for the instance page.
- `domains`: a custom domain's DNS records and verification, as Railway reports them (kept
  by the domain step, refreshed by the poll until verified, shown by Settings and the API).

Depends on `catalog`, `teams` and `platform`; billing drives it (suspend, resume), never
the other way round.
"""
