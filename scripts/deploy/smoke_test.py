"""Smoke-test a deployed RailSaaS: the few pages that prove the release is up and whole.

    python scripts/deploy/smoke_test.py https://railsaas.example.com [--timeout 300]

Checks, in order:
  /readyz             200 with status "ready" (database, Redis and the broker reachable)
  /login              200, an HTML sign-in form (POST, an email and a password field)
  /templates/         200, the catalog page (HTML with its results list)
  /api/openapi.json   200, JSON, an OpenAPI 3.x document with paths

While a deploy rolls out the old replicas may still answer, or none may: every round runs
all checks, and the script retries failed rounds until --timeout seconds have passed. It
exits 0 when one round passes and 1 (naming each failed check) when none did in time.
Standard library only, so it runs on a bare runner. The URL may also come from SMOKE_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser

USER_AGENT = "railsaas-smoke-test/1"
MAX_BODY = 5_000_000


class CheckFailed(Exception):
    pass


@dataclass
class Response:
    status: int
    content_type: str
    body: str


def fetch(url: str, timeout: float) -> Response:
    # The scheme was checked in base_url(): http or https only.
    request = urllib.request.Request(  # noqa: S310
        url,
        headers={
            "User-Agent": USER_AGENT,
            "Cache-Control": "no-cache",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, headers, raw = response.status, response.headers, response.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, exc.headers, exc.read(MAX_BODY)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CheckFailed(f"no answer ({reason})") from None
    charset = headers.get_content_charset() or "utf-8"
    return Response(status, headers.get_content_type(), raw.decode(charset, "replace"))


def expect_status(response: Response, status: int = 200) -> None:
    if response.status != status:
        snippet = " ".join(response.body.split())[:160]
        raise CheckFailed(f"HTTP {response.status}, expected {status}: {snippet}")


def expect_json(response: Response) -> dict:
    try:
        document = json.loads(response.body)
    except ValueError:
        raise CheckFailed(f"not JSON (Content-Type {response.content_type})") from None
    if not isinstance(document, dict):
        raise CheckFailed("JSON is not an object")
    return document


def expect_html(response: Response) -> None:
    if response.content_type != "text/html":
        raise CheckFailed(f"Content-Type {response.content_type}, expected text/html")


class _Forms(HTMLParser):
    """Collects each <form>'s method and the (type, name) of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._open = {"method": attrs.get("method", "get").lower(), "inputs": []}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None:
            self._open["inputs"].append((attrs.get("type", "text").lower(), attrs.get("name", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def check_readyz(base: str, timeout: float) -> str:
    response = fetch(base + "/readyz", timeout)
    document = expect_json(response) if response.body.lstrip().startswith("{") else {}
    if response.status != 200:
        failing = [
            name
            for name, c in (document.get("checks") or {}).items()
            if isinstance(c, dict) and not c.get("ok")
        ]
        detail = f": failing {', '.join(failing)}" if failing else ""
        raise CheckFailed(f"HTTP {response.status}{detail}")
    if document.get("status") != "ready":
        raise CheckFailed(f"status is {document.get('status')!r}, expected 'ready'")
    return "ready"


def check_login(base: str, timeout: float) -> str:
    response = fetch(base + "/login", timeout)
    expect_status(response)
    expect_html(response)
    parser = _Forms()
    parser.feed(response.body)
    for form in parser.forms:
        types = {t for t, _ in form["inputs"]}
        names = {n for _, n in form["inputs"]}
        if (
            form["method"] == "post"
            and "password" in types
            and ("email" in types or "email" in names)
        ):
            return "sign-in form"
    raise CheckFailed("no sign-in form (a POST form with an email and a password field)")


def check_catalog(base: str, timeout: float) -> str:
    response = fetch(base + "/templates/", timeout)
    expect_status(response)
    expect_html(response)
    if 'id="catalog-results"' not in response.body:
        raise CheckFailed("the page has no catalog results list (id=catalog-results)")
    return "catalog"


def check_openapi(base: str, timeout: float) -> str:
    response = fetch(base + "/api/openapi.json", timeout)
    expect_status(response)
    document = expect_json(response)
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise CheckFailed(f"openapi is {version!r}, expected 3.x")
    if not isinstance(document.get("paths"), dict) or not document["paths"]:
        raise CheckFailed("the document has no paths")
    return f"OpenAPI {version}, {len(document['paths'])} paths"


CHECKS = [
    ("/readyz", check_readyz),
    ("/login", check_login),
    ("/templates/", check_catalog),
    ("/api/openapi.json", check_openapi),
]


def base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SystemExit(f"smoke_test: expected an http(s) URL, got {url!r}")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def run_round(base: str, request_timeout: float) -> list[tuple[str, bool, str]]:
    results = []
    for path, check in CHECKS:
        try:
            results.append((path, True, check(base, request_timeout)))
        except CheckFailed as exc:
            results.append((path, False, str(exc)))
    return results


def smoke_test(
    base: str, timeout: float, interval: float, request_timeout: float, out=sys.stdout
) -> bool:
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        results = run_round(base, request_timeout)
        failed = [r for r in results if not r[1]]
        if not failed:
            for path, _, detail in results:
                print(f"ok    {path}: {detail}", file=out)
            print(f"smoke test passed: {base} (attempt {attempt})", file=out)
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            for path, ok, detail in results:
                print(f"{'ok  ' if ok else 'FAIL'}  {path}: {detail}", file=out)
            print(
                f"smoke test FAILED: {base}: {len(failed)} of {len(results)} checks still "
                f"failing after {attempt} attempts ({timeout:g} s)",
                file=out,
            )
            return False
        print(
            f"attempt {attempt}: "
            + "; ".join(f"{p}: {d}" for p, _, d in failed)
            + f" (retrying for {remaining:.0f} s more)",
            file=out,
            flush=True,
        )
        time.sleep(min(interval, remaining))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("SMOKE_URL", ""),
        help="base URL of the deployment (default: $SMOKE_URL)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to keep retrying (default 300)"
    )
    parser.add_argument(
        "--interval", type=float, default=10, help="seconds between rounds (default 10)"
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=15,
        help="seconds one request may take (default 15)",
    )
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no URL: pass it or set SMOKE_URL")
    ok = smoke_test(base_url(args.url), args.timeout, args.interval, args.request_timeout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
