from tests.mcp.fixtures import (
    default_stdio_surface,
    model_provider,
    model_provider_server,
    start_server,
)

__all__ = ["default_stdio_surface", "model_provider", "model_provider_server", "start_server"]
