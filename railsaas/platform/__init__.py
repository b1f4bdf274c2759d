"""Platform: services every feature uses and none owns.

The audit log, the transactional outbox (work queued with the change that needs it), email
(rendered, stored, sent after commit), in-app notifications, rows written outside any
workspace, captured development mail, and the throttles (`throttles.py`: every rate limit,
named once, counted in Redis). Depends only on the models, the database, the extensions and
observability.
"""
