"""The Assistants API's shapes, declared once for both halves: the MCP tools' arguments
(`mcp/tools/`) and the engine's REST request models, services and runs import them from here.
A bottom layer like `http/`: it imports nothing else of the package (tests/test_architecture.py).
"""
