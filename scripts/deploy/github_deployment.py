"""Record a deploy on GitHub: a deployment for the commit, then its statuses.

    python scripts/deploy/github_deployment.py create --environment production --ref SHA
    python scripts/deploy/github_deployment.py status --deployment-id ID --state success \\
        [--environment-url URL] [--log-url URL] [--description TEXT]

`create` prints the new deployment's id and, under GitHub Actions, writes it to the step's
outputs as `deployment_id`. `status` accepts a job.status (success, failure, cancelled) or a
deployment state (in_progress, queued, error, inactive). Uses GITHUB_TOKEN (needs the
`deployments: write` permission), GITHUB_REPOSITORY and GITHUB_API_URL from the environment,
as GitHub Actions sets them. Standard library only; the token is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

# job.status -> deployment state; deployment states map to themselves.
STATES = {
    "success": "success",
    "failure": "failure",
    "cancelled": "error",
    "in_progress": "in_progress",
    "queued": "queued",
    "error": "error",
    "inactive": "inactive",
    "pending": "pending",
}


class GitHubError(Exception):
    pass


def api(method: str, path: str, payload: dict, env: dict[str, str]) -> dict:
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise GitHubError("GITHUB_TOKEN is not set")
    base = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("https", "http"):
        raise GitHubError("GITHUB_API_URL is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        base + path,
        data=json.dumps(payload).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "railsaas-deploy",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (checked)
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        raise GitHubError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise GitHubError(f"{method} {path}: {getattr(exc, 'reason', exc)}") from None


def repository(env: dict[str, str]) -> str:
    repo = env.get("GITHUB_REPOSITORY", "")
    if repo.count("/") != 1:
        raise GitHubError("GITHUB_REPOSITORY is not set (owner/name)")
    return repo


def create(environment: str, ref: str, description: str, env: dict[str, str]) -> int:
    deployment = api(
        "POST",
        f"/repos/{repository(env)}/deployments",
        {
            "ref": ref,
            "environment": environment,
            "description": description[:140],
            "auto_merge": False,  # deploy exactly this commit
            "required_contexts": [],  # the tests already passed: this job `needs` them
            "production_environment": environment == "production",
        },
        env,
    )
    if "id" not in deployment:
        raise GitHubError(f"no deployment was created: {deployment.get('message', deployment)}")
    return int(deployment["id"])


def set_status(
    deployment_id: int,
    state: str,
    env: dict[str, str],
    environment_url: str = "",
    log_url: str = "",
    description: str = "",
) -> None:
    payload = {"state": STATES[state], "auto_inactive": True}
    if environment_url:
        payload["environment_url"] = environment_url
    if log_url:
        payload["log_url"] = log_url
    if description:
        payload["description"] = description[:140]
    api("POST", f"/repos/{repository(env)}/deployments/{deployment_id}/statuses", payload, env)


def default_log_url(env: dict[str, str]) -> str:
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return ""


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("create", help="create a deployment; prints its id")
    c.add_argument("--environment", default="production")
    c.add_argument("--ref", default=env.get("GITHUB_SHA", ""))
    c.add_argument("--description", default="Railway: web, worker and beat")
    s = commands.add_parser("status", help="add a status to a deployment")
    s.add_argument("--deployment-id", type=int, required=True)
    s.add_argument("--state", required=True, choices=sorted(STATES))
    s.add_argument("--environment-url", default="")
    s.add_argument("--log-url", default=default_log_url(env))
    s.add_argument("--description", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            if not args.ref:
                parser.error("--ref is required (or GITHUB_SHA)")
            deployment_id = create(args.environment, args.ref, args.description, env)
            print(deployment_id)
            if env.get("GITHUB_OUTPUT"):
                with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
                    f.write(f"deployment_id={deployment_id}\n")
        else:
            set_status(
                args.deployment_id,
                args.state,
                env,
                args.environment_url,
                args.log_url,
                args.description,
            )
            print(f"deployment {args.deployment_id}: {STATES[args.state]}")
    except GitHubError as exc:
        print(f"github_deployment: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
