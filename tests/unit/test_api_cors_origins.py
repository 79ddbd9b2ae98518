"""Which origins the /v1 CORS policy allows, from CLERK_AUTHORIZED_PARTIES as configured (no database needed: a
bare Falcon app with the middleware and one /v1 route)."""

from __future__ import annotations

import falcon
import falcon.testing

from ingress.api.cors import ApiCorsMiddleware, allowed_origins


class _Hello:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hello": True}


def _client(parties: tuple[str, ...]) -> falcon.testing.TestClient:
    app = falcon.App(middleware=[ApiCorsMiddleware(parties)])
    app.add_route("/v1/hello", _Hello())
    app.add_route("/elsewhere", _Hello())
    return falcon.testing.TestClient(app)


def test_configured_parties_are_origins_without_a_trailing_slash_or_blanks() -> None:
    assert allowed_origins([" https://a.example/ ", "http://127.0.0.1:8000", "", " ", "/"]) == {
        "https://a.example",
        "http://127.0.0.1:8000",
    }


def test_an_origin_is_matched_exactly() -> None:
    client = _client(("https://a.example/", "http://127.0.0.1:8000"))
    for origin in ("https://a.example", "http://127.0.0.1:8000"):
        answer = client.simulate_get("/v1/hello", headers={"Origin": origin})
        assert answer.headers["access-control-allow-origin"] == origin
    for origin in ("https://a.example/", "http://a.example", "https://A.example", "http://127.0.0.1:8001", "*"):
        answer = client.simulate_get("/v1/hello", headers={"Origin": origin})
        assert "access-control-allow-origin" not in answer.headers, origin
    assert (
        "access-control-allow-origin"
        not in client.simulate_get("/elsewhere", headers={"Origin": "https://a.example"}).headers
    )


def test_no_parties_allow_no_origin_never_every_origin() -> None:
    client = _client(())
    answer = client.simulate_get("/v1/hello", headers={"Origin": "https://a.example"})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    assert answer.headers["vary"] == "Origin"
