"""The HTTP transports the SDK serves (streamable HTTP, SSE), with our overrides."""
