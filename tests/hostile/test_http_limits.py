"""Oversized request lines and headers, against the real server.

Twisted (under Daphne) reads each request or header line up to 16,384 bytes and all
of them together up to 16,384; past either it used to close the socket without a byte
(an empty reply) or send a bare 400. learning_platform/daphne_limits.py makes it answer
414 or 431 first. Whatever the answer, the server must not hang the client, must close
that connection, and must go on serving everyone else.
"""

from __future__ import annotations

import socket

import pytest

from learning_platform.daphne_limits import MAX_HEADER_BYTES, MAX_LINE_BYTES

TIMEOUT = 10  # s: a hang fails here, not at the suite's timeout


def exchange(server, request: bytes) -> bytes:
    """Send one raw request and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):  # b"" once the server has closed it
            reply += chunk
    return reply


def request(target: str = "/", headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    return int(reply.split(b" ", 2)[1])


def still_serving(server) -> None:
    assert status_of(exchange(server, request())) == 200


def test_a_request_just_under_the_limits_is_served(production_server):
    target = "/?q=" + "a" * (MAX_LINE_BYTES - 200)
    assert status_of(exchange(production_server, request(target))) == 200
    header = ("X-Padding", "b" * (MAX_LINE_BYTES - 600))
    assert status_of(exchange(production_server, request(headers=(header,)))) == 200


@pytest.mark.parametrize("length", [MAX_LINE_BYTES + 100, 60 * 1024])
def test_an_overlong_url_is_414_and_the_connection_closes(production_server, length):
    reply = exchange(production_server, request("/?q=" + "a" * length))
    assert status_of(reply) == 414
    assert b"\r\nConnection: close\r\n" in reply
    still_serving(production_server)


def test_a_megabyte_url_is_cut_short_without_a_hang(production_server):
    """The server stops reading at the limit and closes with the rest unread, so the
    kernel may answer the client's remaining bytes with a reset, which can overtake
    the 414 (usually it arrives first)."""
    try:
        reply = exchange(production_server, request("/?q=" + "a" * (1024 * 1024)))
    except (ConnectionResetError, BrokenPipeError):
        reply = None
    assert reply is None or status_of(reply) == 414
    still_serving(production_server)


@pytest.mark.parametrize("length", [MAX_LINE_BYTES + 100, 60 * 1024])
def test_an_overlong_header_is_431_and_the_connection_closes(production_server, length):
    reply = exchange(production_server, request(headers=(("Cookie", "c=" + "x" * length),)))
    assert status_of(reply) == 431
    still_serving(production_server)


def test_headers_over_the_total_are_431(production_server):
    count = MAX_HEADER_BYTES // 1000 + 2  # each one well under the line limit
    headers = tuple((f"X-Filler-{i}", "y" * 1000) for i in range(count))
    assert status_of(exchange(production_server, request(headers=headers))) == 431
    still_serving(production_server)


def test_a_keep_alive_connection_gets_its_earlier_answer_then_the_414(production_server):
    """On a persistent connection the first request is answered in full before the
    oversized second one is refused, so the refusal is never read as the first's answer."""
    first = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    reply = exchange(production_server, first + request("/?q=" + "a" * (MAX_LINE_BYTES + 100)))
    assert status_of(reply) == 200
    assert b"HTTP/1.1 414 URI Too Long\r\n" in reply
    assert reply.index(b"HTTP/1.1 414") > reply.index(b"</html>")
    still_serving(production_server)
