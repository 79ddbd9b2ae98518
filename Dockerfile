# One image for every NeverMissCall process; docker-compose.yml picks the `nmc` subcommand per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/var/lib/nmc LOG_FORMAT=json
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, in their own cached layer: the runtime dependencies of pyproject.toml (no extras: no dev
# tools, no matplotlib) at the versions of constraints.txt. It is rebuilt only when those files change, not on every
# source edit; the project itself is installed below without dependencies once the sources are in.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY ingress ingress
COPY workers workers
COPY domain domain
COPY db db
COPY ops ops
RUN pip install --no-cache-dir --no-deps -c constraints.txt .
# Writable, absolute: backups and the sandbox key go under DATA_DIR; metrics sample files under the tmpfs.
RUN useradd --create-home nmc \
    && mkdir -p /run/nmc-metrics /var/lib/nmc \
    && chown nmc /run/nmc-metrics /var/lib/nmc
USER nmc
VOLUME ["/var/lib/nmc"]
# Liveness of the process the container runs: HEALTH_URL answers 200 (the ingress's /healthz by default;
# docker-compose.yml points the dispatcher, worker and scheduler at their own /metrics binds).
ENV HEALTH_URL=http://127.0.0.1:8000/healthz
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTH_URL'], timeout=4)"]
ENTRYPOINT ["nmc"]
