"""Admin passwords cannot be guessed without limit (django-axes), against the real server.

Before: 30 wrong passwords in 17 s each got "incorrect" and the 31st, right, logged in.
Now a username is locked out from an address after AXES_FAILURE_LIMIT failures, right
password or not, until the cool-off ends or an administrator resets it.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from django.conf import settings

LOGIN = "/admin/login/?next=/admin/"
INCORRECT = "Please enter the correct username and password"
LOCKED = "Too many failed sign-ins"


def sign_in(server, username: str, password: str, session: requests.Session | None = None) -> requests.Response:
    """Post the admin login form as a browser would (CSRF cookie and token from the form)."""
    session = session or requests.Session()
    form = session.get(server.url + LOGIN, timeout=10)
    assert form.status_code == 200
    return session.post(
        server.url + LOGIN,
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"], "username": username,
              "password": password, "next": "/admin/"},
        allow_redirects=False, timeout=30,
    )


def signed_in(response: requests.Response) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/admin/"


@pytest.fixture(scope="module")
def accounts(production_server) -> list[tuple[str, str]]:
    """Fresh administrators, one per test that needs one (made in one command)."""
    made = {f"admin-{i}-{secrets.token_hex(3)}": secrets.token_urlsafe(16) for i in range(4)}
    production_server.create_superusers(made)
    return list(made.items())


@pytest.fixture
def admin(accounts):
    return accounts.pop()


def test_the_limit_is_a_few_failures_with_a_cool_off():
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() >= 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_wrong_passwords_lock_the_username_out_even_for_the_right_one(production_server, admin):
    username, password = admin
    limit = settings.AXES_FAILURE_LIMIT
    for attempt in range(1, limit):  # bounded: the limit, never more
        response = sign_in(production_server, username, "wrong-" + str(attempt))
        assert response.status_code == 200 and INCORRECT in response.text, attempt
    locked = sign_in(production_server, username, "wrong-last")
    assert locked.status_code == 429
    assert LOCKED in locked.text and "manage.py axes_reset_username" in locked.text
    assert "/static/css/site.css" in locked.text  # the site's page, not a bare string
    assert "Content-Security-Policy" in locked.headers

    session = requests.Session()
    right = sign_in(production_server, username, password, session)
    assert right.status_code == 429 and LOCKED in right.text
    assert session.get(production_server.url + "/admin/", allow_redirects=False, timeout=10).status_code == 302


def test_the_lockout_is_per_username_and_an_administrator_can_lift_it(production_server, admin, accounts):
    username, password = admin
    other, other_password = accounts.pop()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(production_server, username, f"guess-{attempt}")
    assert sign_in(production_server, username, password).status_code == 429

    # Another account from the same address is not locked out (username and address together).
    assert signed_in(sign_in(production_server, other, other_password))

    production_server.manage("axes_reset_username", username)
    session = requests.Session()
    assert signed_in(sign_in(production_server, username, password, session))
    assert session.get(production_server.url + "/admin/", allow_redirects=False, timeout=10).status_code == 200


def test_a_success_before_the_limit_starts_the_count_again(production_server, admin):
    username, password = admin
    limit = settings.AXES_FAILURE_LIMIT
    for attempt in range(limit - 1):
        sign_in(production_server, username, f"typo-{attempt}")
    assert signed_in(sign_in(production_server, username, password))
    for attempt in range(limit - 1):
        assert sign_in(production_server, username, f"typo-again-{attempt}").status_code == 200
    assert signed_in(sign_in(production_server, username, password))
