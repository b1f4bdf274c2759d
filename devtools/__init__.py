"""Development tools, never shipped in the production wheel: the Railway and Stripe
emulators, the `make dev` runner (`devstack`), embedded PostgreSQL and Redis, the SMTP mail
sink, and demo data (`seed`, `seed_history`). Used from a checkout by `make dev`, the tests
and the benchmarks; their dependencies are in the `dev` extra.
"""
