# One image for the web server, the migrate step and the GPU worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/data \
    WEIGHTS_CACHE_DIR=/cache/weights

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/rewardboard
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY worker ./worker
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# Editable, so templates/, static/ and migrations/ are found next to the code; flower only serves the dashboard.
RUN pip install -e ".[worker]" flower

RUN useradd --create-home --uid 1000 rewardboard \
    && mkdir -p /data/snapshots /cache/weights \
    && chown -R rewardboard /data /cache
USER rewardboard

EXPOSE 8000
# The web server's liveness (compose gives the worker its own check); /readyz is for a load balancer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=5 \
    CMD curl -fsS http://localhost:8000/healthz || exit 1
CMD ["rewardboard", "serve", "--host", "0.0.0.0", "--port", "8000"]
