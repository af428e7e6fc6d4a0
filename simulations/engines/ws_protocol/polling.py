"""Short polling and long polling on the same chat traffic as the WebSocket, counted byte by
byte with their HTTP/1.1 heads (RFC 9112 §2.1: start-line CRLF, field lines CRLF, CRLF).

The heads modelled (`poll_request`, `poll_response`, `send_request`, `send_response`) are a
browser's usual ones: Host, User-Agent, Accept, Accept-Language, Accept-Encoding, Referer,
Cookie and Connection on a request (plus Content-Type and Content-Length on a POST); Date,
Server, Content-Type, Content-Length, Cache-Control and Connection on a response. Bodies
are JSON arrays of the messages (`[m1,m2]`, `[]` when empty). TCP, IP and TLS overheads are
not counted for any of the three methods.

- Short polling: a GET every `poll_ms` from time 0; the server answers at once with every
  message that arrived before the request did.
- Long polling (RFC 6202 §2.1): the server holds each GET until a message arrives (or
  `hold_ms` passes: an empty answer); the client sends the next GET as soon as an answer
  arrives, so a message that arrives between two requests waits for the next one.
- Client-to-server messages go as one POST each (answered 204) in both HTTP methods.

Latency is from a message's creation at the server to the answer that carries it reaching
the client; one-way network latency is `latency_ms` each way, the server answers at once.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from simulations.engines.ws_protocol.codec import head_bytes

HOST = "chat.example.com"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
COOKIE = "sessionid=8f14e45fceea167a5a36dedd4bea2543"
DATE = "Wed, 02 Dec 2026 01:30:00 GMT"


def poll_request(path: str) -> list[str]:
    return [
        f"GET {path} HTTP/1.1",
        f"Host: {HOST}",
        f"User-Agent: {UA}",
        "Accept: application/json",
        "Accept-Language: en-GB,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        f"Referer: https://{HOST}/room/42",
        f"Cookie: {COOKIE}",
        "Connection: keep-alive",
    ]


def poll_response(body_len: int) -> list[str]:
    return [
        "HTTP/1.1 200 OK",
        f"Date: {DATE}",
        "Server: nginx",
        "Content-Type: application/json",
        f"Content-Length: {body_len}",
        "Cache-Control: no-store",
        "Connection: keep-alive",
    ]


def send_request(body_len: int) -> list[str]:
    return [
        "POST /chat/send HTTP/1.1",
        f"Host: {HOST}",
        f"User-Agent: {UA}",
        "Accept: */*",
        "Content-Type: application/json",
        f"Content-Length: {body_len}",
        f"Origin: https://{HOST}",
        f"Referer: https://{HOST}/room/42",
        f"Cookie: {COOKIE}",
        "Connection: keep-alive",
    ]


def send_response() -> list[str]:
    return ["HTTP/1.1 204 No Content", f"Date: {DATE}", "Server: nginx", "Connection: keep-alive"]


SHORT_PATH = "/chat/poll?since=0"
LONG_PATH = "/chat/wait?since=0"


def body_len(sizes: list[int]) -> int:
    """A JSON array of the messages: brackets, and commas between them."""
    return 2 + sum(sizes) + max(len(sizes) - 1, 0)


@dataclass
class Tally:
    """One method's bytes as (time, bytes) sends, and its deliveries (created, delivered)."""

    sends: list[tuple[float, int]] = field(default_factory=list)
    deliveries: list[tuple[float, float]] = field(default_factory=list)
    requests: int = 0
    _times: list[float] = field(default_factory=list, repr=False)
    _cum: list[int] = field(default_factory=list, repr=False)
    _dtimes: list[float] = field(default_factory=list, repr=False)  # deliveries' arrival times, in order
    _dsum: list[float] = field(default_factory=list, repr=False)  # running sums of their delays

    def add(self, t: float, n: int) -> None:
        self.sends.append((t, n))

    def finish(self) -> Tally:
        self.sends.sort()
        self.deliveries.sort(key=lambda d: d[1])
        total = 0
        self._times, self._cum = [], []
        for t, n in self.sends:
            total += n
            self._times.append(t)
            self._cum.append(total)
        acc = 0.0
        self._dtimes, self._dsum = [], []
        for c, a in self.deliveries:
            acc += a - c
            self._dtimes.append(a)
            self._dsum.append(acc)
        return self

    def bytes_at(self, now: float) -> int:
        i = bisect_right(self._times, now)
        return self._cum[i - 1] if i else 0

    def delivered_count(self, now: float) -> int:
        return bisect_right(self._dtimes, now)

    def delivered_by(self, now: float) -> list[tuple[float, float]]:
        return self.deliveries[: self.delivered_count(now)]

    def mean_delay(self, now: float) -> float | None:
        """The mean delay of the messages delivered by `now` (None: none yet)."""
        n = self.delivered_count(now)
        return self._dsum[n - 1] / n if n else None


def _client_posts(tally: Tally, client_msgs: list[tuple[float, int]], latency: float) -> None:
    for t, size in client_msgs:
        body = body_len([size])
        tally.add(t, head_bytes(send_request(body)) + body)
        tally.add(t + latency, head_bytes(send_response()))
        tally.requests += 1


def short_polling(server_msgs: list[tuple[float, int]], client_msgs: list[tuple[float, int]], *, latency: float,
                  poll_ms: float, end: float) -> Tally:
    tally = Tally()
    req = head_bytes(poll_request(SHORT_PATH))
    pending = sorted(server_msgs)
    i, t = 0, 0.0
    while t <= end:
        arrive = t + latency
        batch = []
        while i < len(pending) and pending[i][0] <= arrive:
            batch.append(pending[i])
            i += 1
        body = body_len([s for _, s in batch])
        tally.add(t, req)
        tally.add(arrive, head_bytes(poll_response(body)) + body)
        tally.requests += 1
        tally.deliveries.extend((c, arrive + latency) for c, _ in batch)
        t += poll_ms
    _client_posts(tally, client_msgs, latency)
    return tally.finish()


def long_polling(server_msgs: list[tuple[float, int]], client_msgs: list[tuple[float, int]], *, latency: float,
                 hold_ms: float, end: float) -> Tally:
    tally = Tally()
    req = head_bytes(poll_request(LONG_PATH))
    pending = sorted(server_msgs)
    i, t = 0, 0.0
    while t <= end:
        arrive = t + latency
        if i < len(pending) and pending[i][0] <= arrive:
            answer = arrive  # messages are waiting: answered at once
        elif i < len(pending) and pending[i][0] <= arrive + hold_ms:
            answer = pending[i][0]  # held until the next message
        else:
            answer = arrive + hold_ms  # nothing came: an empty answer at the timeout
        batch = []
        while i < len(pending) and pending[i][0] <= answer:
            batch.append(pending[i])
            i += 1
        body = body_len([s for _, s in batch])
        tally.add(t, req)
        tally.add(answer, head_bytes(poll_response(body)) + body)
        tally.requests += 1
        tally.deliveries.extend((c, answer + latency) for c, _ in batch)
        t = answer + latency  # the next request goes as soon as the answer is in
    _client_posts(tally, client_msgs, latency)
    return tally.finish()
