"""Outbound HTTP: one verified TLS context shared by every httpx client the process builds.

Unless given one, httpx builds a new `SSLContext` for each client, reading the whole CA bundle
(about 20 ms of CPU each time). Railway clients, uptime probes and the Stripe emulator's clock
are built often enough for that to lead a profile. An `SSLContext` is safe to share between
threads and verifies exactly as a fresh one would.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
