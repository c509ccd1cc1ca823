"""HTTP hosting shared by both servers (the MCP HTTP transports and the REST API): who may
call (`access`), caller credentials (`credentials`), per-key limits (`limits`), request bodies
(`bodies`), the one guard middleware (`guard`) and the uvicorn server (`server`).
Imports neither the engine nor the MCP server: both import it."""
