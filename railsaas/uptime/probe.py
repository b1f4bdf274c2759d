"""Asking one domain whether its app answers (see the package docstring for the rules)."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from railsaas.outbound import tls_context

USER_AGENT = "RailSaaS-Uptime/1.0 (uptime check of an app hosted on RailSaaS; one request a minute)"
# A hostname: labels of letters, digits and hyphens. No port, path, user or IP brackets.
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)"
    r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


@dataclass(frozen=True)
class Result:
    up: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None  # why nothing (usable) answered


@dataclass(frozen=True)
class Options:
    timeout: float
    allow_private: bool = False
    connect_to: str = ""  # development: host:port spoken to over HTTP, the domain as Host

    @classmethod
    def from_config(cls, config: Any) -> Options:
        return cls(
            timeout=float(config["UPTIME_TIMEOUT_SECONDS"]),
            allow_private=bool(config["UPTIME_ALLOW_PRIVATE"]),
            connect_to=str(config["UPTIME_CONNECT_TO"] or ""),
        )


def is_public(address: str) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local,
    carrier-grade NAT, multicast, reserved or unspecified)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_rest, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def _target(domain: str, opts: Options) -> tuple[str, str, int]:
    """(scheme, host to connect to, port)."""
    if opts.connect_to:
        host, _, port = opts.connect_to.rpartition(":")
        return "http", host, int(port)
    return "https", domain, 443


def probe(client: httpx.Client, domain: str, opts: Options) -> Result:
    domain = (domain or "").strip().lower().rstrip(".")
    if not HOSTNAME.match(domain):
        return Result(False, error="invalid domain")
    scheme, host, port = _target(domain, opts)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        return Result(False, error="dns")
    if not addresses:
        return Result(False, error="dns")
    if not opts.allow_private and not all(is_public(a) for a in addresses):
        return Result(False, error="private address")
    ip = addresses[0]
    netloc = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    # Connect to the address we checked; the certificate is verified against the domain.
    extensions = {"sni_hostname": domain} if scheme == "https" else {}
    started = time.monotonic()
    try:
        with client.stream(
            "GET",
            f"{scheme}://{netloc}/",
            extensions=extensions,
            headers={"Host": domain, "User-Agent": USER_AGENT},
        ) as response:
            latency = round((time.monotonic() - started) * 1000)
            status = response.status_code  # the body is never read
    except httpx.TimeoutException:
        return Result(False, error="timeout")
    except httpx.ConnectError as exc:
        return Result(
            False,
            error="tls" if "SSL" in str(exc) or "certificate" in str(exc) else "connection refused",
        )
    except httpx.HTTPError as exc:
        return Result(False, error=type(exc).__name__[:100])
    # 5xx: the app or Railway's proxy in front of it is failing. Anything else answered.
    return Result(status < 500, status, latency, None if status < 500 else f"HTTP {status}")


def probe_many(domains: Iterable[str], opts: Options, concurrency: int) -> list[Result]:
    """Each domain once, `concurrency` at a time, in order."""
    domains = list(domains)
    if not domains:
        return []
    workers = max(1, min(concurrency, len(domains)))
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=0)
    with (
        httpx.Client(
            timeout=httpx.Timeout(opts.timeout),
            follow_redirects=False,
            limits=limits,
            trust_env=False,
            verify=tls_context(),
        ) as client,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uptime") as pool,
    ):
        return list(pool.map(lambda d: probe(client, d, opts), domains))
