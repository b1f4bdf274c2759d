"""Reporting: what dashboards and admins read across features.

Business metrics (MRR, churn, margin), the customer dashboard's figures, the admin's view
of background jobs that went wrong, and the optional read replica they query. Read-only;
the top feature layer, so it may read from every other.
"""
