"""WebSocket routes. The slug is checked by the consumer (an unknown one gets a clear
close code, not a routing traceback); any other path is refused at the handshake."""

from django.urls import re_path

from simulations.consumers import RejectConsumer, SimulationConsumer

websocket_urlpatterns: list = [
    re_path(r"^ws/simulations/(?P<slug>[^/]{1,100})/$", SimulationConsumer.as_asgi()),
    re_path(r"", RejectConsumer.as_asgi()),
]
