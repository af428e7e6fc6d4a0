"""A real Daphne with production settings (debug off, a real SECRET_KEY, ALLOWED_HOSTS,
plain http on loopback) and its own migrated and seeded SQLite database.

The browser tests (tests/browser) and the hostile-input tests (tests/hostile) each
start one per session.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.loopback import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


def production_env(db: Path, **extra: str) -> dict[str, str]:
    """The caller's environment with production settings and `db` as the database."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{db}",
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


@dataclass
class LiveDaphne:
    """A production-like Daphne (debug off) serving plain http on loopback."""

    env: dict[str, str]
    log: object = subprocess.DEVNULL
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.serve", "-b", "127.0.0.1", "-p", str(self.port),
             "learning_platform.asgi:application"],
            # Its log goes to a file: an unread pipe would block Daphne once full.
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """Run a management command against this server's database and settings."""
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, **env},
                              check=True, capture_output=True, text=True, timeout=120)

    def sign_in(self, page, username: str, password: str, next_path: str) -> None:
        """Log `page` into the admin as this user and wait until it lands on `next_path`."""
        import re

        page.goto(f"{self.url}/admin/login/?next={next_path}")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(re.escape(next_path) + "$"))

    def create_superusers(self, passwords: dict[str, str]) -> None:
        """Create superusers {username: password} in one command (each start costs seconds)."""
        code = ("import json, os; from django.contrib.auth import get_user_model; User = get_user_model(); "
                "[User.objects.create_superuser(n, f'{n}@example.com', p) "
                "for n, p in json.loads(os.environ['LIVE_USERS']).items()]")
        self.manage("shell", "-c", code, LIVE_USERS=json.dumps(passwords))



#: `manage.py shell -c` code that makes (or resets) the staff user LIVE_USER, password
#: LIVE_PASSWORD, in the Instructors group; a test's own set-up code follows it.
MAKE_INSTRUCTOR = r"""
import json, os
from django.contrib.auth.models import Group, User
user, _ = User.objects.get_or_create(username=os.environ["LIVE_USER"], defaults={"is_staff": True})
user.is_staff = True
user.set_password(os.environ["LIVE_PASSWORD"])
user.save()
user.groups.add(Group.objects.get(name="Instructors"))
"""

@contextmanager
def running_daphne(directory: Path) -> Iterator[LiveDaphne]:
    """Migrate a fresh database in `directory` and serve it; Daphne's log is daphne.log there."""
    env = production_env(directory / "db.sqlite3")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    with open(directory / "daphne.log", "ab") as log:
        server = LiveDaphne(env=env, log=log)
        server.start()
        try:
            yield server
        finally:
            server.stop()
