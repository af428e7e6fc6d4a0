"""404s: JSON everywhere under /api/, the site's own page for a view's Http404, in debug too."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

API_MISSES = [
    "/api/topics/",  # a trailing slash the API does not use
    "/api/nothing-here",
    "/api/simulations/nope/deeper/still",
    "/api/topics/dns/extra",
]


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("path", API_MISSES)
def test_any_unknown_path_under_api_is_a_json_404(client, debug, path):
    for method in (client.get, client.post, client.delete):
        response = method(path)
        assert response.status_code == 404, (method, path)
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == {"detail": f"Not Found: {path}"}


def test_api_endpoints_still_answer_and_their_own_404s_stay_json(client, debug):
    assert client.get("/api/topics").status_code == 200
    response = client.get("/api/topics/no-such-topic")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "no-such-topic" in response.json()["detail"]


def test_a_view_raising_http404_shows_the_sites_404_page_in_debug_too(client, debug):
    for path in ("/topics/no-such-topic/", "/categories/no-such-category/", "/related/no-such-item/"):
        response = client.get(path)
        assert response.status_code == 404
        page = response.content.decode()
        assert "<h1>Page not found</h1>" in page, path
        assert "Search the topics instead" in page
        assert "Using the URLconf" not in page  # not Django's technical page


def test_a_url_that_matches_no_route_is_djangos_debug_page_only_in_debug(client, debug):
    response = client.get("/no/such/route/")
    assert response.status_code == 404
    page = response.content.decode()
    if debug:
        assert "Using the URLconf defined in" in page  # README.md says how to see the real one
    else:
        assert "<h1>Page not found</h1>" in page
