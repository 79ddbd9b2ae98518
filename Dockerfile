# One image for every NeverMissCall process; docker-compose.yml picks the `nmc` subcommand per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY ingress ingress
COPY workers workers
COPY domain domain
COPY db db
COPY ops ops
RUN pip install --no-cache-dir -c constraints.txt .
RUN useradd --create-home nmc && mkdir -p /run/nmc-metrics && chown nmc /run/nmc-metrics
USER nmc
ENTRYPOINT ["nmc"]
