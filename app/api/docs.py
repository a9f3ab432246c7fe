"""/docs: Swagger UI for the OpenAPI description, served from a local bundle (no CDN, no inline script)."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/static/docs"
START_SCRIPT = "/static/swagger-init.js"


def swagger_page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
  <link rel="stylesheet" href="/static/docs-page.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <script src="{ASSETS}/swagger-ui-bundle.js" defer></script>
  <script src="{START_SCRIPT}" defer></script>
</head>
<body>
  <nav class="docs-back" aria-label="Site">
    <a class="brand" href="/">RewardBoard</a>
    <a href="/">← Back to the leaderboard</a>
    <a href="/about">About</a>
  </nav>
  <div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_page(f"{app.title} API", app.openapi_url or "/openapi.json"))
