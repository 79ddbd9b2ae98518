"""GET /v1/docs: Swagger UI over /v1/openapi.json, served by the ingress from the pinned ``swagger-ui-py`` package's
static files, so it works offline: the page names only same-origin assets, and its Content-Security-Policy lets the
browser load nothing else (the online validator badge is switched off too).

Readable without a token, like the document it renders; trying a request out needs a token pasted into
"Authorize", and is sent to this same origin.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import falcon

# The files of Swagger UI this page uses, out of everything the package ships (its editor, maps, templates).
VENDORED = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Relative URLs: /v1/docs/… and /v1/openapi.json, whatever host or prefix the ingress is reached under.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NeverMissCall API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<noscript>This page needs JavaScript; the document itself is <a href="openapi.json">openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
"""
START = """"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""


def swagger_ui_static() -> Path:
    """The package's static folder, found without importing it (its ``__init__`` loads its web handlers)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        return cls(body, content_type, hashlib.sha256(body).hexdigest()[:32])


def load_assets(static: Path) -> dict[str, Asset]:
    assets = {name: Asset.of((static / name).read_bytes(), kind) for name, kind in VENDORED.items()}
    assets["start.js"] = Asset.of(START.encode(), "text/javascript; charset=utf-8")
    return assets


ASSET_NAMES = (*VENDORED, "start.js")
DOCS_PATH = "/v1/docs"
ASSET_PATHS = tuple(f"{DOCS_PATH}/{name}" for name in ASSET_NAMES)


def _send(req: falcon.Request, resp: falcon.Response, asset: Asset, cache: str) -> None:
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.set_header("Cache-Control", cache)
    resp.etag = asset.etag
    if req.if_none_match and any(tag == asset.etag or tag == "*" for tag in req.if_none_match):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = asset.content_type
    resp.data = asset.body


class DocsPageResource:
    """GET /v1/docs: the page, under a Content-Security-Policy that allows this origin only."""

    def __init__(self) -> None:
        self._page = Asset.of(PAGE.encode(), falcon.MEDIA_HTML)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        resp.set_header("Referrer-Policy", "no-referrer")
        _send(req, resp, self._page, "no-cache")


class DocsAssetResource:
    """GET /v1/docs/<one file>: one route per file, so nothing else of the package can be asked for."""

    def __init__(self, asset: Asset) -> None:
        self._asset = asset

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        # The files change only with the pinned package; the ETag answers a revalidation with a 304.
        _send(req, resp, self._asset, "public, max-age=3600")


def add_docs_routes(app: falcon.App, static: Path | None = None) -> None:
    app.add_route(DOCS_PATH, DocsPageResource())
    for name, asset in load_assets(static or swagger_ui_static()).items():
        app.add_route(f"{DOCS_PATH}/{name}", DocsAssetResource(asset))
