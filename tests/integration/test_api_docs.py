"""/v1/docs works offline: the page and everything it loads come from the ingress itself (no CDN), its CSP lets the
browser fetch nothing else, and neither it nor /v1/openapi.json, both readable without a token, reveals a secret."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from pydantic import SecretStr

from db.settings import Settings
from ingress.api.docs import ASSET_PATHS, CONTENT_SECURITY_POLICY, DOCS_PATH
from tests.support import api_world as api
from tests.support.api_world import World

jwks = api.jwks
world = api.world

BASE = "http://testserver"


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href", "action", "srcset") and value]


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.found


def test_the_docs_page_loads_without_a_token_and_names_only_same_origin_assets(world: World) -> None:
    page = world.client.simulate_get(DOCS_PATH)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = references(page.text)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in found)
    for ref in found:
        absolute = urljoin(BASE + DOCS_PATH, ref)
        assert urlsplit(absolute).netloc == "testserver", ref  # no CDN, no other host, no protocol-relative URL
        served = world.client.simulate_get(urlsplit(absolute).path)
        assert served.status_code == 200, (ref, served.status_code)
    # The start script fetches the document relative to the page, and the online validator badge is off.
    start = world.client.simulate_get(f"{DOCS_PATH}/start.js")
    assert start.headers["content-type"].startswith("text/javascript")
    assert '"openapi.json"' in start.text
    assert "validatorUrl: null" in start.text
    assert "http" not in start.text
    # The stylesheet pulls in nothing remote (fonts and icons are inline data: URLs).
    css = world.client.simulate_get(f"{DOCS_PATH}/swagger-ui.css").text
    assert "@import" not in css
    urls = [chunk.split(")", 1)[0].strip("\"' ") for chunk in css.split("url(")[1:]]
    assert urls
    assert all(url.startswith("data:") for url in urls), [url[:60] for url in urls if not url.startswith("data:")]


def test_the_docs_page_csp_allows_this_origin_only(world: World) -> None:
    page = world.client.simulate_get(DOCS_PATH)
    policy = page.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert directives["connect-src"] == "'self'"
    for sources in directives.values():
        assert "http" not in sources
        assert "*" not in sources
    assert page.headers["x-content-type-options"] == "nosniff"


def test_docs_assets_are_a_closed_list_and_revalidate(world: World) -> None:
    for path in ASSET_PATHS:
        first = world.client.simulate_get(path)
        assert first.status_code == 200, path
        assert first.headers["etag"]
        again = world.client.simulate_get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    # Nothing else of the package (its editor, templates, sources) nor a path out of it can be asked for.
    for path in (
        f"{DOCS_PATH}/swagger-editor-bundle.js",
        f"{DOCS_PATH}/../core.py",
        f"{DOCS_PATH}/%2e%2e/core.py",
        f"{DOCS_PATH}/index.css/x",
        f"{DOCS_PATH}/",
    ):
        refused = world.client.simulate_get(path)
        assert refused.status_code == 404, path
        assert refused.json["error"]["code"] == "not_found"
    assert world.client.simulate_post(DOCS_PATH).status_code == 405


def _secrets(settings: Settings) -> list[str]:
    values = [value.get_secret_value() for value in dict(settings).values() if isinstance(value, SecretStr)]
    return [value for value in values if len(value) >= 8] + [settings.database_url, settings.redis_url]


def test_docs_and_document_reveal_no_secret(world: World, settings: Settings) -> None:
    served = [
        world.client.simulate_get("/v1/openapi.json").text,
        world.client.simulate_get(DOCS_PATH).text,
        world.client.simulate_get(f"{DOCS_PATH}/start.js").text,
    ]
    secrets = _secrets(settings)
    assert len(secrets) >= 3
    for text in served:
        for secret in secrets:
            assert secret not in text
        for marker in ("postgresql", "redis://", "BEGIN PRIVATE KEY", "sk_live", "whsec_"):
            assert marker not in text


def test_the_document_names_no_tenant_data(world: World) -> None:
    """Built from code alone: the tenants, numbers and ids of this database appear nowhere in it."""
    text: Any = world.client.simulate_get("/v1/openapi.json").text
    for value in (str(world.a), str(world.b), str(world.conv_a), "+13105550001", "owner_a"):
        assert value not in text
