"""The fleet: the pool of Railway workspaces as platform admins run it.

`admin.py`: the pool on the admin's Railway page (each entry's instances, budget use,
breaker state, spend against Railway's usage limit), adding an entry (its token written
once, encrypted, never shown again), draining, reopening and closing one, every change
audited. `spend.py`: each Railway workspace's spend this month at Railway's prices, refreshed
hourly, as a metric (the Prometheus alert RailwayWorkspaceNearUsageLimit) and an email to
the platform admins before Railway's usage limit is reached.

The clients, their budgets and breakers, and placement are `railsaas.railway.pool`'s.
Platform data: only the admin and system logins read it (sql/rls_policies.sql).
"""
