"""The shop API (``/api/v1``): API keys with scopes, problem+json errors, idempotent POSTs."""
