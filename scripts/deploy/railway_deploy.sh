#!/usr/bin/env bash
# Deploy this checkout to Railway with the Railway CLI: web first, then worker, then beat.
#
# Migrations: web's railway.json runs `alembic upgrade head` as its preDeployCommand, inside
# Railway's network (where DATABASE_URL resolves), on the new build, before the new web
# replicas take traffic; a failed migration fails web's deploy. `railway up --ci` waits for
# each deploy's verdict and exits non-zero on a failed or crashed deploy, so worker and beat
# are only deployed once the migrations and the new web are up. (`railway run` would run the
# migrations on this machine, which cannot reach the database's private address.)
#
# Settings, from the environment:
#   RAILWAY_TOKEN           project token of the Railway project (required, never printed;
#                           the CLI reads it from the environment, it is never an argument)
#   RAILWAY_ENVIRONMENT     Railway environment name or id            (default: production)
#   RAILWAY_WEB_SERVICE     web service name or id                    (default: web)
#   RAILWAY_WORKER_SERVICE  worker service name or id                 (default: worker)
#   RAILWAY_BEAT_SERVICE    beat service name or id                   (default: beat)
#   DEPLOY_MESSAGE          message attached to each Railway deployment (default: the commit)
#   RAILWAY_BIN             the CLI to run                            (default: railway)
#   DRY_RUN=1               print the commands instead of running them
#
# Usage: scripts/deploy/railway_deploy.sh   (docs/deploy.md, "CI/CD")
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"  # `railway up` uploads the current directory (minus .gitignore'd files)

# The app's own RAILWAY_API_TOKEN is the *customers'* workspace token: never let the CLI
# fall back to it. Deploys authenticate with the project token alone.
unset RAILWAY_API_TOKEN

dry_run="${DRY_RUN:-0}"
railway="${RAILWAY_BIN:-railway}"
environment="${RAILWAY_ENVIRONMENT:-production}"
web="${RAILWAY_WEB_SERVICE:-web}"
worker="${RAILWAY_WORKER_SERVICE:-worker}"
beat="${RAILWAY_BEAT_SERVICE:-beat}"
if [[ -z "${DEPLOY_MESSAGE:-}" ]]; then
  DEPLOY_MESSAGE="RailSaaS ${GITHUB_SHA:-$(git rev-parse HEAD 2>/dev/null || echo 'local checkout')}"
fi

fail() {
  echo "railway_deploy: $*" >&2
  exit 1
}

if [[ -z "${RAILWAY_TOKEN:-}" ]]; then
  if [[ "$dry_run" == 1 ]]; then
    echo "railway_deploy: RAILWAY_TOKEN is not set (dry run: continuing)" >&2
  else
    fail "RAILWAY_TOKEN is not set: a project token of the Railway project (docs/deploy.md)"
  fi
fi

# Names go into argv: refuse anything that could read as an option or is empty.
for setting in "environment=$environment" "web=$web" "worker=$worker" "beat=$beat"; do
  value="${setting#*=}"
  if [[ ! "$value" =~ ^[A-Za-z0-9][A-Za-z0-9._\ -]*$ ]]; then
    fail "invalid ${setting%%=*} name: '$value'"
  fi
done
if [[ "$web" == "$worker" || "$web" == "$beat" || "$worker" == "$beat" ]]; then
  fail "web, worker and beat must be three different services ($web, $worker, $beat)"
fi

# Migrations ride on web's pre-deploy command: without it, worker and beat would start new
# code on an old schema. Refuse to deploy rather than find out in production.
python3 - "$root/railway.json" <<'PY' || fail "railway.json must run 'alembic upgrade head' as deploy.preDeployCommand"
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    command = json.load(f).get("deploy", {}).get("preDeployCommand") or []
if isinstance(command, str):
    command = [command]
sys.exit(0 if "alembic upgrade head" in command else 1)
PY

run() {
  if [[ "$dry_run" == 1 ]]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

deploy() {
  local service="$1" what="$2"
  echo "==> $service: $what" >&2
  if ! run "$railway" up --ci --service "$service" --environment "$environment" \
      --message "$DEPLOY_MESSAGE"; then
    fail "deploying '$service' failed; the services after it were not deployed"
  fi
}

run "$railway" --version || fail "the Railway CLI ('$railway') did not run: npm install -g @railway/cli"
deploy "$web" "migrations (pre-deploy: alembic upgrade head), then the new web replicas"
deploy "$worker" "Celery worker"
deploy "$beat" "Celery beat"
echo "==> deployed $web, $worker and $beat to '$environment'" >&2
