# clickai-bridge: slim image, non-root user, SQLite store on the /data volume.
#
# Defaults come from deploy/docker-defaults.toml (store on /data, listen on 0.0.0.0:8080); the
# mounted /config/config.toml is read on top of them, so its [store] and [server] win.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BRIDGE_CONFIG=/config/config.toml \
    BRIDGE_CONFIG_DEFAULTS=/app/deploy/docker-defaults.toml

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bridge ./bridge
COPY channels ./channels
COPY deploy/docker-defaults.toml ./deploy/docker-defaults.toml
# The [postgres] extra brings asyncpg, so store.url = "postgresql://…" works out of the box;
# [redis] brings redis-py for coordination.redis_url (replicas sharing one flood budget).
RUN pip install '.[postgres,redis]' \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bridge \
    && mkdir -p /data /config \
    && chown bridge:bridge /data

USER bridge
VOLUME ["/data"]
EXPOSE 8080
# Probes GET /healthz on the configured server.listen (not a fixed port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-m", "bridge.healthcheck"]
# docker stop sends SIGTERM: in-flight answers get [bridge] shutdown_grace_s (20 s by default)
# to finish, so give the container more than that: `docker run --stop-timeout 40` or
# `stop_grace_period: 40s` in compose.
STOPSIGNAL SIGTERM
ENTRYPOINT ["clickai-bridge"]
CMD ["run"]
