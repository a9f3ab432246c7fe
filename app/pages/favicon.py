"""/favicon.ico for clients that ask for it without reading the pages' icon link: the site's SVG icon."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.templating import STATIC_DIR

router = APIRouter()
ICON = STATIC_DIR / "favicon.svg"


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The site's icon."""
    return FileResponse(ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
