"""Tell the team's chat how a deploy went: a Slack and/or a Discord incoming webhook.

    python scripts/deploy/notify.py --status success [--environment production] [--url URL]

The webhooks come from SLACK_WEBHOOK_URL and DISCORD_WEBHOOK_URL; with neither set the script
says so and exits 0 (notifications are optional). The commit, actor and run link come from
GitHub Actions' environment (GITHUB_SHA, GITHUB_ACTOR, GITHUB_SERVER_URL, GITHUB_REPOSITORY,
GITHUB_RUN_ID) when present. A webhook URL is a secret: it is never printed, not even when a
delivery fails. Exits 1 when a delivery failed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

STATUSES = {  # job.status values -> (verb, emoji)
    "success": ("succeeded", ":white_check_mark:"),
    "failure": ("FAILED", ":x:"),
    "cancelled": ("was cancelled", ":warning:"),
}
WEBHOOKS = (("Slack", "SLACK_WEBHOOK_URL"), ("Discord", "DISCORD_WEBHOOK_URL"))


def summary(status: str, environment: str, url: str, env: dict[str, str]) -> dict[str, str]:
    verb, emoji = STATUSES[status]
    sha = env.get("GITHUB_SHA", "")[:12]
    repo = env.get("GITHUB_REPOSITORY", "")
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    run_url = (
        f"{server}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
        if repo and env.get("GITHUB_RUN_ID")
        else ""
    )
    commit_url = f"{server}/{repo}/commit/{env['GITHUB_SHA']}" if repo and sha else ""
    return {
        "status": status,
        "verb": verb,
        "emoji": emoji,
        "environment": environment,
        "url": url,
        "sha": sha,
        "commit_url": commit_url,
        "run_url": run_url,
        "actor": env.get("GITHUB_ACTOR", ""),
        "repo": repo,
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(s: dict[str, str]) -> dict:
    """Slack incoming webhook: `text` (mrkdwn), links as <url|label>."""
    parts = [f"{s['emoji']} RailSaaS deploy to *{_slack_escape(s['environment'])}* {s['verb']}"]
    if s["sha"]:
        commit = f"<{s['commit_url']}|{s['sha']}>" if s["commit_url"] else s["sha"]
        parts.append(f"commit {commit}")
    if s["actor"]:
        parts.append(f"by {_slack_escape(s['actor'])}")
    links = []
    if s["url"]:
        links.append(f"<{s['url']}|{_slack_escape(s['url'])}>")
    if s["run_url"]:
        links.append(f"<{s['run_url']}|workflow run>")
    text = " ".join(parts) + ("\n" + " | ".join(links) if links else "")
    return {"text": text}


def discord_payload(s: dict[str, str]) -> dict:
    """Discord webhook: `content` (markdown, at most 2000 characters); no pings."""
    icon = {"success": "✅", "failure": "❌"}.get(s["status"], "⚠️")
    head = f"{icon} RailSaaS deploy to **{s['environment']}** {s['verb']}"
    if s["sha"]:
        head += f" (commit `{s['sha']}`" + (f" by {s['actor']}" if s["actor"] else "") + ")"
    lines = [head]
    if s["url"]:
        lines.append(s["url"])
    if s["run_url"]:
        lines.append(f"Workflow run: <{s['run_url']}>")
    return {
        "content": "\n".join(lines)[:2000],
        "username": "RailSaaS deploy",
        "allowed_mentions": {"parse": []},
    }


def post(url: str, payload: dict, timeout: float = 15) -> int:
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError("the webhook URL is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "railsaas-deploy-notify/1"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked)
        return response.status


def notify(status: str, environment: str, url: str, env: dict[str, str], out=sys.stdout) -> int:
    s = summary(status, environment, url, env)
    builders = {"Slack": slack_payload, "Discord": discord_payload}
    configured = [(name, env[var].strip()) for name, var in WEBHOOKS if env.get(var, "").strip()]
    if not configured:
        print(
            "notify: neither SLACK_WEBHOOK_URL nor DISCORD_WEBHOOK_URL is set: "
            "no chat notification",
            file=out,
        )
        return 0
    failed = 0
    for name, webhook in configured:
        try:
            code = post(webhook, builders[name](s))
        except urllib.error.HTTPError as exc:
            print(f"notify: {name} webhook answered HTTP {exc.code}", file=out)
            failed += 1
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # Only the reason: the URL (the secret) stays out of the log.
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            print(
                f"notify: {name} webhook failed: {type(exc).__name__}: "
                f"{str(reason).replace(webhook, '<webhook>')}",
                file=out,
            )
            failed += 1
        else:
            print(f"notify: {name} notified (HTTP {code})", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--status",
        required=True,
        choices=sorted(STATUSES),
        help="the deploy job's status (job.status)",
    )
    parser.add_argument("--environment", default="production")
    parser.add_argument("--url", default="", help="the deployment's public URL")
    args = parser.parse_args(argv)
    return notify(args.status, args.environment, args.url, dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
