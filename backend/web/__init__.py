"""The web dashboard: a static page (HTML, CSS, ES modules) served by CoachIQ itself at ``/``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")
# The page works without a network: every asset comes from this server; revalidating keeps a
# phone from running an old script after an upgrade.
_NO_CACHE = {"Cache-Control": "no-cache"}


class _Static(StaticFiles):
    """StaticFiles that asks browsers to revalidate."""

    def file_response(self, *args, **kwargs):  # type: ignore[override]
        response = super().file_response(*args, **kwargs)
        response.headers.update(_NO_CACHE)
        return response


def mount_web(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` and its assets under ``/static``."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "icon.svg", media_type="image/svg+xml")

    app.mount("/static", _Static(directory=STATIC_DIR), name="static")
