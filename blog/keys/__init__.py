"""API keys of a blog: content keys (public reads) and scoped admin keys."""

# The header a key is sent in (never a query parameter: URLs end up in logs).
API_KEY_HEADER = "X-API-Key"
