# openai-assistant-mcp: the MCP server with its embedded Assistants engine.
#   docker build -t openai-assistant-mcp .
#   docker run -i --rm -e OPENAI_API_KEY -v openai-assistant-data:/data openai-assistant-mcp
#   docker run --rm -p 8662:8662 -e TRANSPORT=streamable-http -e MCP_AUTH_TOKEN -e OPENAI_API_KEY \
#       -v openai-assistant-data:/data openai-assistant-mcp          # http://localhost:8662/mcp
# (HOST is 0.0.0.0 in the image, and HTTP beyond loopback needs MCP_AUTH_TOKEN: clients send
# "Authorization: Bearer <MCP_AUTH_TOKEN>"; see docs/clients.md.)
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv
# Bytecode compiled at build time: the server starts without compiling anything.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN uv sync --locked --no-dev --no-editable \
    && useradd --create-home --uid 10001 app \
    && mkdir /data && chown app /data

USER app
# TRANSPORT stays stdio by default (docker run -i for Claude Desktop); set it for HTTP.
ENV PATH=/app/.venv/bin:$PATH \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8662
VOLUME /data
EXPOSE 8662
ENTRYPOINT ["openai-assistant-mcp"]
