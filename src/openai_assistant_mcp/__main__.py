"""`python -m openai_assistant_mcp`: the same as the `openai-assistant-mcp` command."""

from .cli import main

main()
