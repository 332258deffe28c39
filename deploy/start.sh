#!/usr/bin/env bash
# The Space's entry point (the image's CMD). Runs unchanged outside Docker when nginx and
# redis-server are installed: every port and path below can be overridden from the environment.
#
# Supervision: deploy/supervise.py restarts a program that dies; a program that keeps dying
# (SUPERVISOR_MAX_RESTARTS within SUPERVISOR_WINDOW seconds) stops everything and this script
# exits 1, so the Space shows the failure and restarts instead of serving a UI over a dead API.
set -euo pipefail

APP_DIR="${APP_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$APP_DIR"

export PORT="${PORT:-7860}"              # public: nginx
export LISTEN_HOST="${LISTEN_HOST:-0.0.0.0}"
export API_PORT="${API_PORT:-8000}"      # loopback: Gunicorn
export UI_PORT="${UI_PORT:-7861}"        # loopback: Gradio
export REDIS_PORT="${REDIS_PORT:-6379}"  # loopback: local redis-server, unless REDIS_URL is set

# /data is the Space's persistent storage when it has some; otherwise Redis's append-only file
# lives in the container and goes with it.
if [ -z "${DATA_DIR:-}" ]; then
  if [ -d /data ] && [ -w /data ]; then
    DATA_DIR=/data
  else
    DATA_DIR="$APP_DIR/instance/space-data"
  fi
fi
export DATA_DIR
export RUN_DIR="${RUN_DIR:-${TMPDIR:-/tmp}/lungrisk-space}"
mkdir -p "$DATA_DIR" "$RUN_DIR"

if [ -n "${SPACE_ID:-}" ] && [ -z "${ADMIN_TOKEN:-}" ]; then
  echo "start.sh: ADMIN_TOKEN is not set: /logs and the admin API stay closed (403)." >&2
fi

exec "${PYTHON:-python3}" -m deploy.space
