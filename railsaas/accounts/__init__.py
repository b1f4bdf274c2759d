"""Accounts: people and how they prove who they are.

Sign-up (with the personal workspace every person gets), sign-in and its throttle, email
verification, password reset and policy, profile changes, API session tokens (JWT access
and refresh) and personal API tokens, and the platform admin's user management.

Depends on `platform` (audit, mail) and the models; nothing here knows about teams,
instances or billing.
"""
