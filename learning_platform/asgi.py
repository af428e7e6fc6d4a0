"""ASGI entry point: HTTP goes to Django, WebSockets to Channels behind an Origin check.

The WebSocket routes get no AuthMiddlewareStack: the simulation consumer never reads
the user or the session, and the stack's session wrapper sits on every message sent
(about a sixth of the server's time streaming frames to 100 viewers, `make bench`) and
costs a worker-thread hop per connect. A route that needs `scope["user"]` should get
its own `AuthMiddlewareStack(URLRouter([...]))` inside the router below.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
# Initialise Django (apps, settings) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from simulations.routing import websocket_urlpatterns  # noqa: E402
from learning_platform import daphne_limits, daphne_writes, gc_tuning  # noqa: E402

daphne_writes.install()  # under Daphne: a write goes to the socket at once when nothing is buffered
daphne_limits.install()  # under Daphne: 414/431 for a request line or headers over 16 KB

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

gc_tuning.tune()  # after start-up: see learning_platform/gc_tuning.py
