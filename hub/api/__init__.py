"""The hub's HTTP API (aiohttp): routes, auth, error mapping and the OpenAPI document."""
