#!/bin/sh
# One image, one role per container. `exec` hands PID 1 to the real process so it receives SIGTERM.
set -eu
role="${1:-web}"
[ $# -gt 0 ] && shift
export DM_ROLE="$role"
# The `service` key of every log line (petrosa_dm/logs.py).
export DM_SERVICE="${DM_SERVICE:-$role}"
case "$role" in
  web)
    exec gunicorn petrosa_dm.wsgi --config python:petrosa_dm.gunicorn_conf --bind "0.0.0.0:${API_PORT:-8000}" --workers "${WEB_WORKERS:-3}" \
      --threads "${WEB_THREADS:-4}" --worker-tmp-dir /tmp --access-logfile - --forwarded-allow-ips '*' "$@" ;;
  consumer)
    exec python manage.py consume "$@" ;;
  worker)
    exec celery -A petrosa_dm --quiet worker --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  beat)
    # The schedule lives in django-celery-beat's tables; no local schedule file is written.
    exec celery -A petrosa_dm --quiet beat -S django --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  migrate)
    python manage.py migrate --noinput
    exec python manage.py install_schedule ;;
  manage)
    exec python manage.py "$@" ;;
  *)
    echo "unknown role '$role': expected web, consumer, worker, beat, migrate or manage" >&2
    exit 64 ;;
esac
