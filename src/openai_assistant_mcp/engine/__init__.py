"""The embedded Assistants API v2 engine: REST API, persistent store and run executor."""
