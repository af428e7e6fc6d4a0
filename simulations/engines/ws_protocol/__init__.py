"""WebSockets (RFC 6455): the wire format (`codec`), polling for comparison (`polling`) and
the engine (`engine`). Named ws_protocol so it never shadows the `websockets` package."""

from simulations.engines.ws_protocol.engine import WebSocketsEngine

__all__ = ["WebSocketsEngine"]
