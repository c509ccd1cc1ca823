"""The API's rules: limits, state transitions, tenancy. Services return API-shaped dicts."""
