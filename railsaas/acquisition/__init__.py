"""Acquisition: what the business spends to win customers, per calendar month and channel,
entered by platform admins (`spend.py`). Where each customer came from is recorded at
sign-up (accounts.attribution); reporting.business puts the two together as CAC, LTV:CAC and
payback.

Platform data, not a workspace's: only platform admins (and system jobs) read or write it,
which the functions here check and row-level security enforces. Depends on `accounts` (the
channel's spelling), `platform` (audit) and the models.
"""
