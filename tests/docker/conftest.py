from tests.mcp.fixtures import model_provider, model_provider_server

__all__ = ["model_provider", "model_provider_server"]
