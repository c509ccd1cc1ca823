# openai-assistant-mcp: the MCP server with its embedded Assistants engine.
#   docker build -t openai-assistant-mcp .
#   docker run -i --rm -e OPENAI_API_KEY -v openai-assistant-data:/data openai-assistant-mcp
#   docker run --rm -p 8662:8662 -e TRANSPORT=streamable-http -e MCP_AUTH_TOKEN -e OPENAI_API_KEY \
#       -v openai-assistant-data:/data openai-assistant-mcp          # http://localhost:8662/mcp
# (HOST is 0.0.0.0 in the image, and HTTP beyond loopback needs MCP_AUTH_TOKEN: clients send
# "Authorization: Bearer <MCP_AUTH_TOKEN>"; see docs/clients.md.)
# code_interpreter's sandbox needs, from the clone: --security-opt
# seccomp=deploy/seccomp-bubblewrap.json --security-opt apparmor=unconfined --security-opt
# systempaths=unconfined (compose.yaml sets them; docs/hardening.md says why). Check it with
#   docker run --rm <those options> openai-assistant-mcp sandbox check
# Any base with python3 (>= 3.11, with venv) works: CI builds FROM a Debian bookworm base it
# bootstraps itself (scripts/docker_ci.sh), as no container registry is reachable there.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
# uv from PyPI (not the ghcr.io image), so the build needs no registry beyond the base's.
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
# Bytecode compiled at build time: the server starts without compiling anything.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (a layer that survives source changes), then the project itself.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --locked --no-dev --extra all --no-editable --no-install-project
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --locked --no-dev --extra all --no-editable

FROM ${BASE_IMAGE}
# bubblewrap: code_interpreter's sandbox (installed where the base is Debian-like).
RUN if command -v apt-get >/dev/null && ! command -v bwrap >/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap \
        && apt-get clean && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --create-home --uid 10001 app \
    && mkdir /data && chown app /data
COPY --from=build /app/.venv /app/.venv
# TRANSPORT stays stdio by default (docker run -i for Claude Desktop); set it for HTTP.
ENV PATH=/app/.venv/bin:$PATH \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8662
USER app
# code_interpreter's Python (numpy, pandas, matplotlib, scipy), prepared at build time into
# ~app/.cache; uv is mounted from the build stage for this step only, so the image lacks it.
RUN --mount=type=bind,from=build,source=/opt/uv,target=/opt/uv \
    PATH=/opt/uv/bin:$PATH UV_NO_CACHE=1 openai-assistant-mcp sandbox setup
VOLUME /data
EXPOSE 8662
ENTRYPOINT ["openai-assistant-mcp"]
