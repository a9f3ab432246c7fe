"""ASGI middlewares and helpers that apply to every request: limits, guards, headers, error answers."""
