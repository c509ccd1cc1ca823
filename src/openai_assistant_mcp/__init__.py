"""Run and manage Assistants-API assistants from any MCP client."""
