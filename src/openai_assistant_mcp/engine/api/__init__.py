"""REST routes of the Assistants API v2, one module per path family."""
