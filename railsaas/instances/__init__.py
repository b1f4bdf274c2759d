"""Instances: a customer's running copy of a template, from request to deletion.

- `lifecycle`: the business rules every entry point calls (deploy, actions, variables,
  domains, suspending a whole workspace); they write rows and outbox entries, never call
  Railway.
- `admission`: what a workspace's plan and billing hold allow to run.
- `states`: the state machine; every status change goes through it.
- `provisioning` and its parts: doing the steps on Railway from Celery tasks, the batched
  poll that watches them, and reconciliation.
- `insights`: logs and metrics read from Railway for the instance page.

Depends on `catalog`, `teams` and `platform`; billing drives it (suspend, resume), never
the other way round.
"""
