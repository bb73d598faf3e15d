# syntax=docker/dockerfile:1
# One image for every process: web, consumer, worker, beat and migrate (see docker/entrypoint.sh).

# --- build: compile the wheels that need headers (mysqlclient) into a virtualenv ---
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The same system packages CI installs for mysqlclient (see .ci/run and scripts/system-deps.sh).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libmariadb-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# requirements.txt is the one source of truth for runtime dependencies; CI installs it through requirements-dev.txt.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

WORKDIR /app
COPY . /app
# Static files are collected at build time so the runtime filesystem can be read-only.
RUN DJANGO_SECRET_KEY=collectstatic-only DM_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
    && rm -rf /app/var /app/.venv /app/.git

# --- runtime: slim, non-root, read-only friendly ---
FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 petrosa \
    && useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin petrosa
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=1000:1000 /app /app
WORKDIR /app
# Writable paths only under /tmp (an emptyDir in Kubernetes): the root filesystem may be read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DM_VAR_DIR=/tmp/petrosa \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    HOME=/tmp
USER 1000:1000
EXPOSE 8000 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "docker/healthcheck.py"]
ENTRYPOINT ["docker/entrypoint.sh"]
CMD ["web"]
