"""Platform: services every feature uses and none owns.

The audit log, the transactional outbox (work queued with the change that needs it), email
(rendered, stored, sent after commit, bodies blanked once sent), in-app notifications, rows
written outside any workspace, captured development mail, the throttles (`throttles.py`:
every rate limit, named once, counted in Redis), and encrypted database backups
(`backups.py`: backup, restore, the restore drill, retention). Depends only on the models,
the database, the extensions and observability (and, for backups, `dbadmin`'s role and
database helpers).
"""
