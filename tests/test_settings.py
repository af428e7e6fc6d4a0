"""Settings come from the environment. Each case runs in a fresh interpreter with exactly that environment."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG_VARS = {
    "DJANGO_DEBUG", "DJANGO_HTTPS", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL",
    "CSRF_TRUSTED_ORIGINS", "DJANGO_SETTINGS_MODULE",
}

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "db": {k: db.get(k) for k in ("ENGINE", "NAME", "USER", "HOST", "PORT")},
    "layer": settings.CHANNEL_LAYERS["default"],
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
}))
"""


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run in the project folder with the caller's environment minus our config, plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS and not k.startswith("PYTEST")}
    base["DJANGO_SETTINGS_MODULE"] = "learning_platform.settings"
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )


def resolved(**env: str) -> dict:
    result = run(["-c", PRINT_SETTINGS], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def production_env(**extra: str) -> dict:
    return {
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "example.com",
        **extra,
    }


def test_check_deploy_passes_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_a_weak_secret_key():
    # The deploy check is real: a short key is a warning, and WARNING fails the run.
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 **production_env(SECRET_KEY="short"))
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


def test_missing_secret_key_with_debug_off_is_refused_clearly():
    result = run(["manage.py", "check"], DJANGO_DEBUG="0", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.parametrize("value", ["", "0"])
def test_debug_is_off_unless_asked_for(value):
    settings = resolved(DJANGO_DEBUG=value, SECRET_KEY=secrets.token_urlsafe(64))
    assert settings["DEBUG"] is False
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_defaults_are_sqlite_and_in_memory_layer():
    settings = resolved(DJANGO_DEBUG="1")
    assert settings["DEBUG"] is True
    assert settings["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["db"]["NAME"].endswith("db.sqlite3")
    assert settings["layer"] == {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]


def test_database_url_selects_postgresql():
    settings = resolved(DJANGO_DEBUG="1", DATABASE_URL="postgres://alice@db.internal:6543/learning")
    assert settings["db"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "learning",
        "USER": "alice",
        "HOST": "db.internal",
        "PORT": 6543,
    }


def test_redis_url_selects_channels_redis():
    settings = resolved(DJANGO_DEBUG="1", REDIS_URL="redis://cache.internal:6380/2")
    layer = settings["layer"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layer["CONFIG"]["hosts"] == ["redis://cache.internal:6380/2"]


def test_allowed_hosts_from_a_comma_separated_list():
    settings = resolved(**production_env(ALLOWED_HOSTS=" example.com, www.example.com ,"))
    assert settings["ALLOWED_HOSTS"] == ["example.com", "www.example.com"]
