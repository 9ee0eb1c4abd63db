# Almanac in a container: `docker build -t almanac .` from a checkout (no Node.js needed on
# the host: the first stage fetches the front-end packages). Runs `almanac server` by default;
# `docker run almanac agent --server ... --token-file ...` runs an agent. See compose.yaml and
# docs/operations/containers.md.
#
# The base images are build arguments: without a registry, `--build-arg NODE_IMAGE=...
# --build-arg PYTHON_IMAGE=...` names local ones (scripts/container-images.sh builds stand-ins).
ARG NODE_IMAGE=node:20-slim
ARG PYTHON_IMAGE=python:3.11-slim

# 1. Front-end assets from the committed lock file.
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/vendor-assets.sh scripts/
RUN npm ci --no-audit --no-fund --loglevel=error && bash scripts/vendor-assets.sh

# 2. The wheel (assets and migrations inside).
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2" "setuptools>=70.1"
COPY pyproject.toml setup.py MANIFEST.in README.md CHANGELOG.md alembic.ini ./
COPY migrations migrations
COPY app app
COPY --from=assets /src/app/web/static/vendor app/web/static/vendor
RUN python -m build --no-isolation --wheel --outdir /dist .

# 3. The runtime: the wheel in a virtualenv, run by an unprivileged user.
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --home-dir /var/lib/almanac --create-home \
        --shell /usr/sbin/nologin almanac \
    && python -m venv /opt/almanac
COPY --from=wheel /dist/*.whl /tmp/
RUN /opt/almanac/bin/pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
ENV PATH=/opt/almanac/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ALMANAC_DATA_DIR=/var/lib/almanac \
    ALMANAC_LOG_FORMAT=json
USER almanac
WORKDIR /var/lib/almanac
VOLUME ["/var/lib/almanac"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import httpx; httpx.get('http://127.0.0.1:8080/api/v1/health').raise_for_status()"]
# SIGTERM reaches almanac itself (exec form): an agent started with --drain ends its runs first.
ENTRYPOINT ["almanac"]
CMD ["server", "--host", "0.0.0.0", "--port", "8080"]
