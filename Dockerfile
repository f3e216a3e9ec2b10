# The bestbefore bot image: the package installed once at build time (docker-compose.yml builds it as `bot`).
#   docker build -t bestbefore .
#   docker run --rm -e SLACK_BOT_TOKEN=... -v "$PWD/docs:/docs:ro" bestbefore bestbefore ingest
FROM python:3.11-slim

# git: document dates come from the last commit that touched each file. The docs are mounted from the host, owned
# by another user, so git must be told they are safe to read (else "detected dubious ownership" and no git dates).
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory /docs \
    && git config --system --add safe.directory '/docs/*' \
    && useradd --create-home --uid 10001 bestbefore \
    && mkdir -p /data \
    && chown bestbefore /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY rag ./rag
COPY bot ./bot
COPY jobs ./jobs
COPY bestbefore ./bestbefore
RUN pip install --no-cache-dir . && rm -rf /app/build

USER bestbefore
ENV BESTBEFORE_HOME=/data \
    PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"
CMD ["bestbefore", "serve", "--port", "3000", "--host", "0.0.0.0"]
