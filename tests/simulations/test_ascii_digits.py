"""Whole numbers are ASCII digits on every edge: "²" (which int() refuses) and "١٢" (which
int() reads as 12) are field errors like any other bad value, never a 500 or a 1011."""

from __future__ import annotations

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.routing import websocket_urlpatterns
from simulations.runs import RunError, parse_seed, parse_whole
from tests.simulations.html import Message

NOT_ASCII = ["²", "١٢", "１２", "٣"]


@pytest.mark.parametrize("text", NOT_ASCII)
def test_the_parser_takes_ascii_digits_only(text):
    with pytest.raises(RunError) as caught:
        parse_whole(text, ("step",), 0, 100)
    assert caught.value.errors[0].field == "step"
    assert parse_whole(" 12 ", ("step",), 0, 100) == 12


@pytest.mark.django_db
@pytest.mark.parametrize("text", NOT_ASCII)
def test_the_page_shows_a_notice_for_a_step_in_other_digits(client, text):
    response = client.get("/topics/race-conditions/", {"step": text})
    assert response.status_code == 200
    assert "That step is not valid" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("text", NOT_ASCII)
def test_the_api_answers_422_naming_the_seed(client, text):
    response = client.post("/api/simulations/race-conditions/runs", {"seed": text}, content_type="application/json")
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["detail"]] == ["seed"]
    with pytest.raises(RunError):
        parse_seed(text)


@pytest.mark.parametrize("text", NOT_ASCII)
async def test_a_socket_opened_at_a_step_in_other_digits_shows_the_default_run_with_a_notice(text):
    from urllib.parse import quote

    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns),
                                 f"/ws/simulations/ping-pong/?panel=sim-ping-pong&step={quote(text)}")
    comm.scope["client"] = ("10.4.4.4", 1)
    assert (await comm.connect())[0]
    msg = Message(await comm.receive_from(2))
    assert msg.el("sim-ping-pong-counter").text.startswith("Step 0")
    assert "could not be opened" in msg.oob("sim-ping-pong-error", "innerHTML").text
    await comm.send_to(text_data='{"cmd": "seek", "index": "%s"}' % text)
    bad = Message(await comm.receive_from(2))
    assert "index" in bad.oob("sim-ping-pong-error", "innerHTML").text
    await comm.disconnect()
