"""Every HTML response carries a Content-Security-Policy with a fresh script nonce and
no way to run inline script or eval, against the real server (production settings).

tests/browser/test_csp.py loads the same pages in Chromium and sees no violation.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
import requests

PAGES = [
    "/",
    "/categories/distributed-systems/",
    "/topics/race-conditions/",  # with its simulation panel
    "/related/raft/",
    "/search/?q=raft",
    "/no-such-page/",  # the 404 page
    "/admin/login/",
    "/api/docs",
]
NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=]+)'")


def policy(response: requests.Response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.url} has no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class Scripts(HTMLParser):
    """Every <script> (its attributes, whether it has a body) and every on* attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.handlers: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [f"<{tag} {name}>" for name in attributes if name.startswith("on")]
        self.handlers += [f"<{tag} {name}>" for name, value in attributes.items()
                          if value and value.strip().lower().startswith("javascript:")]
        if tag == "script":
            self._in_script = {**attributes, "body": ""}
            self.scripts.append(self._in_script)

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["body"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_policy_and_its_scripts_carry_the_nonce(production_server, path):
    response = requests.get(production_server.url + path, timeout=30)
    assert response.status_code == (404 if path == "/no-such-page/" else 200)
    assert response.headers["Content-Type"].startswith("text/html")
    csp = policy(response)
    scripts = csp["script-src"]
    assert "'self'" in scripts
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "http:", "https:"} & set(scripts)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]  # same-origin ws: too (CSP Level 3)

    page = Scripts()
    page.feed(response.text)
    assert page.handlers == [], "inline event handlers cannot run under the policy"
    nonces = {m.group(1) for m in NONCE.finditer(" ".join(scripts))}
    for script in page.scripts:
        if script.get("type") == "application/json":
            continue  # data, never executed
        # An inline script needs the nonce; one from this origin may go without.
        if script["body"].strip() or "src" not in script:
            assert script.get("nonce") in nonces, script
        elif "nonce" in script:
            assert script["nonce"] in nonces


def test_base_template_pages_sign_htmx_with_the_nonce(production_server):
    response = requests.get(production_server.url + "/", timeout=30)
    [nonce] = NONCE.findall(response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0])
    assert f'src="/static/django_htmx/htmx-2.min.js" defer nonce="{nonce}"' in response.text
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", response.text)
    assert config, "templates/base.html sets htmx's config"
    assert json.loads(config.group(1)) == {
        "allowEval": False, "allowScriptTags": False, "selfRequestsOnly": True, "historyCacheSize": 0,
        "includeIndicatorStyles": False,
    }


def test_each_response_gets_a_fresh_nonce(production_server):
    seen = []
    for _ in range(10):
        response = requests.get(production_server.url + "/topics/dns/", timeout=30)
        [nonce] = set(NONCE.findall(response.headers["Content-Security-Policy"]))
        assert f'nonce="{nonce}"' in response.text
        seen.append(nonce)
    assert len(set(seen)) == len(seen)
    assert all(len(n) >= 22 for n in seen)  # 16 random bytes, base64


def test_json_and_static_responses_get_the_policy_too(production_server):
    for path in ["/api/topics", "/static/css/site.css", "/static/icons/lan.svg"]:
        response = requests.get(production_server.url + path, timeout=30)
        assert response.status_code == 200, path
        assert "'unsafe-inline'" not in policy(response)["script-src"], path
