"""Oversized requests get a status line from Daphne, not a silently closed socket.

Daphne parses HTTP/1.1 with Twisted's `HTTPChannel`, which reads the request line and
each header as a line of at most `LineReceiver.MAX_LENGTH` (16,384) bytes and all of
them together up to `HTTPChannel.totalHeadersSize` (16,384). Past the first it drops
the connection without a byte (the client sees an empty reply); past the second it
sends a bare 400. Both limits stay; this only says why: 414 URI Too Long when the
request line is what overflowed, 431 Request Header Fields Too Large when the headers
did, then the connection closes, as Twisted's own 400 does.

`install()` patches the class, so it takes effect for every connection Daphne accepts
after the ASGI module is imported (Daphne imports it before it listens). Other servers
(Uvicorn) never import Twisted, and then nothing is patched.
`tests/hostile/test_http_limits.py` pins the behaviour against the real server.
"""

from __future__ import annotations

import sys

#: Twisted's limits, for the README, SECURITY.md and the tests.
MAX_LINE_BYTES = 16_384
MAX_HEADER_BYTES = 16_384


def _refuse(channel, line_is_request_line: bool) -> None:
    status = b"414 URI Too Long" if line_is_request_line else b"431 Request Header Fields Too Large"
    channel.transport.write(b"HTTP/1.1 " + status + b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    channel.loseConnection()


def install() -> bool:
    """Patch Twisted's HTTPChannel if Twisted is serving; True if it did."""
    http = sys.modules.get("twisted.web.http")
    if http is None:
        return False
    channel_cls = http.HTTPChannel
    if getattr(channel_cls, "_learning_platform_limits", False):
        return True
    line_received = channel_cls.lineReceived

    # The channel appends a Request when it has read a request line and removes it when
    # the response is done (it reads no further line meanwhile), so an empty queue means
    # the line being read is a request line.
    def lineLengthExceeded(self, line):  # LineReceiver's documented override point
        _refuse(self, not self.requests)

    def lineReceived(self, line):
        if getattr(self, "_receivedHeaderSize", 0) + len(line) > self.totalHeadersSize:
            _refuse(self, not self.requests)
            return None
        return line_received(self, line)

    channel_cls.lineLengthExceeded = lineLengthExceeded
    channel_cls.lineReceived = lineReceived
    channel_cls._learning_platform_limits = True
    return True
