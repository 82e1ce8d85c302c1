# clickai-bridge: slim image, non-root user, SQLite store on the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BRIDGE_STORE__URL=sqlite:////data/bridge.db \
    BRIDGE_SERVER__LISTEN=0.0.0.0:8080 \
    BRIDGE_CONFIG=/config/config.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY channels ./channels
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bridge \
    && mkdir -p /data /config \
    && chown bridge:bridge /data

USER bridge
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["clickai-bridge"]
CMD ["run"]
