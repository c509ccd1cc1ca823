"""The MCP server: its tools, transports, and the backend they call (engine or remote API)."""
