"""The web console at /ui: static files shipped in this package (static/, plain ES modules, no
build step) that speak the REST API under /v1 like any client, with the key the user types.
See docs/console.md."""
