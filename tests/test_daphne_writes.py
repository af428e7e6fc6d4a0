"""learning_platform/daphne_writes.py on a real socket: what the kernel takes is sent at
once, the rest waits in Twisted's buffer, in order, and a lost peer is reported as
Twisted reports it."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import tcp

from learning_platform import daphne_writes


class Reactor:
    """The reactor calls a connection makes: which connections want to be told when
    their socket can take more."""

    def __init__(self) -> None:
        self.writers: set = set()
        self.asked = 0

    def addWriter(self, writer) -> None:
        self.writers.add(writer)
        self.asked += 1

    def removeWriter(self, writer) -> None:
        self.writers.discard(writer)


@pytest.fixture
def pair():
    assert daphne_writes.install(), "Twisted is imported here, so the connection class is patched"
    ours, peer = socket.socketpair()
    reactor = Reactor()
    connection = tcp.Connection(ours, protocol=None, reactor=reactor)
    connection.connected = 1  # as the port marks an accepted connection
    peer.setblocking(False)
    yield connection, peer, reactor
    ours.close()
    peer.close()


def read_all(peer: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_write_the_socket_can_take_is_on_the_wire_without_waiting_for_the_loop(pair):
    connection, peer, reactor = pair
    connection.write(b"frame one")
    connection.write(b"frame two")
    assert read_all(peer) == b"frame oneframe two"
    assert reactor.asked == 0, "nothing was left for the loop to send"
    assert connection.dataBuffer == b"" and connection._tempDataLen == 0


def test_what_the_kernel_does_not_take_waits_in_order_and_goes_when_the_socket_can_take_it(pair):
    connection, peer, reactor = pair
    big = bytes(range(256)) * (64 * 1024)  # 16 MB: far more than a socket buffer holds
    connection.write(big)
    assert connection in reactor.writers, "the rest waits for the socket to drain"
    connection.write(b"the next frame")  # behind the buffered bytes, never before them
    received = bytearray()
    while connection in reactor.writers:
        received += read_all(peer)
        assert connection.doWrite() is None
    received += read_all(peer)
    assert bytes(received) == big + b"the next frame"


def test_a_write_to_a_peer_that_has_gone_is_reported_lost_by_twisted(pair):
    connection, peer, reactor = pair
    peer.close()
    connection.write(b"into the void")
    assert connection in reactor.writers, "the failed send is left to Twisted's own path"
    lost = connection.doWrite()
    assert isinstance(lost, Exception), "the reactor is told the connection is lost"
