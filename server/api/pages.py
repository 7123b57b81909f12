"""The guard's handheld page (/guard, an installable PWA), the supervisor's reports page
(/reports) and the technicians' device page (/devices).  Their scripts and styles are under
/static like the wall's; the service worker and the manifest are served under /guard/, and
the worker is allowed the scope ``/guard`` (a worker controls only URLs under its own path
unless the server allows more) so that it covers the page itself."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

DASHBOARDS = Path(__file__).resolve().parent.parent.parent / "dashboards"
GUARD = DASHBOARDS / "guard"
REPORTS = DASHBOARDS / "reports"
DEVICES = DASHBOARDS / "devices"
NO_CACHE = {"Cache-Control": "no-cache"}


def _file(path: Path, media_type: str | None = None,
          headers: dict[str, str] | None = None) -> FileResponse:
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "dashboard not installed")
    return FileResponse(path, media_type=media_type, headers=headers or NO_CACHE)


@router.get("/guard")
@router.get("/guard/")
async def guard_page() -> FileResponse:
    return _file(GUARD / "index.html")


@router.get("/guard/sw.js")
async def guard_worker() -> FileResponse:
    return _file(GUARD / "sw.js", "text/javascript",
                 {**NO_CACHE, "Service-Worker-Allowed": "/guard"})


@router.get("/guard/manifest.webmanifest")
async def guard_manifest() -> FileResponse:
    return _file(GUARD / "manifest.webmanifest", "application/manifest+json")


@router.get("/reports")
@router.get("/reports/")
async def reports_page() -> FileResponse:
    return _file(REPORTS / "index.html")


@router.get("/devices")
@router.get("/devices/")
async def devices_page() -> FileResponse:
    return _file(DEVICES / "index.html")
