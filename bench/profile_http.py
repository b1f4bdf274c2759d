"""Where a bench.http request spends its time: the same app (create_app, DEBUG=0, the app
role under row-level security, the bench's workspace and signed-in owner), serving the
same two requests in one process under cProfile, with every SQL statement counted.

    .venv/bin/python -m bench.profile_http [--database railsaas_bench] [--requests 300]
                                           [--top 25] [--sort tottime]

In-process through Flask's test client (no gunicorn, no sockets), so the figures are the
app's own CPU and database time per request; bench.http measures the served throughput.
Each target is asked once to warm up (templates compiled, caches filled), then
`--requests` times; a conditional request (If-None-Match with the ETag the first answer
carried) is profiled separately when the answer has one.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench import dataset
from bench.http import PASSWORD, USER_AGENT, app_environment, prepare
from devtools import embedded

BASE = "https://localhost"  # DEBUG=0 cookies are Secure


def _client(app, email: str):
    client = app.test_client()
    headers = {"User-Agent": USER_AGENT}
    page = client.get("/login", base_url=BASE, headers=headers)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    resp = client.post(
        "/login",
        base_url=BASE,
        headers={**headers, "Referer": BASE + "/login"},  # CSRF's HTTPS referrer check
        data={"csrf_token": token, "email": email, "password": PASSWORD},
    )
    assert resp.status_code == 303, resp.status_code
    return client


def _profile(
    client, path: str, headers: dict, n: int, top: int, sort: str, callers: str | None = None
) -> None:
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    client.get(path, base_url=BASE, headers=headers)  # warm-up (and the session settles)
    first = client.get(path, base_url=BASE, headers=headers)
    print(
        f"\n=== GET {path} {headers.get('If-None-Match', '')!s:.24} -> {first.status_code}"
        f" (session cookie {'re-sent' if 'Set-Cookie' in first.headers else 'not re-sent'})"
    )
    event.listen(Engine, "before_cursor_execute", note)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(n):
        client.get(path, base_url=BASE, headers=headers)
    profiler.disable()
    elapsed = time.perf_counter() - started
    event.remove(Engine, "before_cursor_execute", note)
    print(
        f"{elapsed / n * 1000:.2f} ms per request (under the profiler), "
        f"{len(statements) / n:.1f} SQL statements per request:"
    )
    for s in statements[: len(statements) // n]:
        print("   ", " ".join(s.split())[:150])
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
    stats.print_stats(top)
    if callers:
        stats.print_callers(callers)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="railsaas_bench")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--only", choices=("status", "dashboard"))
    parser.add_argument("--callers", help="also list who calls the functions matching this regex")
    args = parser.parse_args()

    url = dataset.bench_url(args.database)
    work = embedded.local_dir() / "bench-profile"
    redis_url = os.environ.get("BENCH_REDIS_URL") or embedded.start_redis(
        work / "redis", persist=False
    )
    data = prepare(url, None, redis_url)
    os.environ.update({**app_environment(url, redis_url, work / "prometheus"), "LOG_LEVEL": "INFO"})
    (work / "prometheus").mkdir(parents=True, exist_ok=True)
    from railsaas.app import create_app  # after the environment it reads

    app = create_app()
    client = _client(app, data["email"])
    targets = {
        "status": (
            f"/instances/{data['instance_id']}/status",
            {"User-Agent": USER_AGENT, "HX-Request": "true"},
        ),
        "dashboard": ("/dashboard", {"User-Agent": USER_AGENT}),
    }
    for name, (path, headers) in targets.items():
        if args.only and name != args.only:
            continue
        _profile(client, path, headers, args.requests, args.top, args.sort, args.callers)
        etag = client.get(path, base_url=BASE, headers=headers).headers.get("ETag")
        if etag:
            _profile(
                client,
                path,
                {**headers, "If-None-Match": etag},
                args.requests,
                args.top,
                args.sort,
                args.callers,
            )


if __name__ == "__main__":
    main()
