"""Typed API schemas: what /api/v1 returns, and the query parameters it accepts."""
