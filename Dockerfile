# geomon worker / ingest image.
#   docker build -t geomon:local .
#   docker run --rm -e GEOMON_BROKER=kafka://kafka:9092 geomon:local            # worker
#   docker run --rm -e GEOMON_BROKER=kafka://kafka:9092 geomon:local ingest /app/samples/articles
# Build stage: a wheel with the coder compiled by mypyc (setup.py); the full image has gcc.
FROM python:3.11 AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir --upgrade setuptools wheel \
    && pip install --no-cache-dir '.[dev]' \
    && pip wheel --no-cache-dir --no-build-isolation --no-deps -w /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels

WORKDIR /app

# Runtime files read through GEOMON_CONFIG_DIR / GEOMON_SAMPLES_DIR (an installed package
# cannot find the repo's configs/ next to itself).
COPY configs/ /app/configs/
COPY samples/ /app/samples/

RUN useradd --create-home --uid 10001 --user-group geomon \
    && mkdir -p /app/data \
    && chown geomon:geomon /app/data

ENV GEOMON_CONFIG_DIR=/app/configs \
    GEOMON_SAMPLES_DIR=/app/samples \
    GEOMON_DATA_DIR=/app/data \
    GEOMON_WEB_HOST=0.0.0.0 \
    GEOMON_WEB_PORT=6066

USER geomon

# Faust web server: /metrics for Prometheus.
EXPOSE 6066

ENTRYPOINT ["geomon"]
CMD ["worker"]
