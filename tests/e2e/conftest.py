from tests.mcp.fixtures import model_provider, model_provider_server, start_server

__all__ = ["model_provider", "model_provider_server", "start_server"]
