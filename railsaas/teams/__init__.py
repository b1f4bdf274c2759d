"""Teams: the workspaces a person belongs to, their members, roles and invitations. (The
one map of which role may do which action is `railsaas.permissions`, below every feature,
so each feature checks its own actions.)

Every function that changes membership locks the workspace row and re-reads the caller's
role in the same transaction. Depends on `accounts` (an invitation can create an account).
"""
