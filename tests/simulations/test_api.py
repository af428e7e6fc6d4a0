"""The headless API: list engines, run one, analyses; errors name the field."""

from __future__ import annotations


import pytest

from simulations import registry
from simulations.models import SimulationPreset

from tests.simulations.pingpong import PingPong

pytestmark = pytest.mark.django_db


def run(client, slug="ping-pong", **body):
    return client.post(f"/api/simulations/{slug}/runs", body, content_type="application/json")


def fields(response) -> set[str]:
    assert response.status_code == 422, response.content
    return {d["field"] for d in response.json()["detail"]}


def test_list_has_every_engine_with_schemas_presets_and_analyses(client):
    response = client.get("/api/simulations")
    assert response.status_code == 200
    engines = {e["slug"]: e for e in response.json()}
    assert set(engines) == {e.slug for e in registry.all_engines()}
    ping = engines["ping-pong"]
    assert ping["topic"] == PingPong.topic_slug and ping["title"] == "Ping pong"
    assert ping["params_schema"]["properties"]["latency_ms"]["maximum"] == 1000
    assert {v["$ref"].rsplit("/", 1)[1] for v in ping["actions_schema"]["oneOf"]} == {"Drop", "Delay", "Pause"}
    assert ping["presets"][0]["slug"] == "lossy" and ping["presets"][0]["source"] == "engine"
    assert ping["analyses"] == {"summary": "Summary", "boom": "Always fails"}
    race = engines["race-conditions"]
    assert race["topic"] == "race-conditions"
    slugs = [p["slug"] for p in race["presets"]]
    assert len(slugs) == len(set(slugs)), "an instructor's preset replaces the built-in one of the same slug"
    seeded = {p["slug"]: p for p in race["presets"] if p["source"] == "instructor"}
    assert seeded["counter-mutex"]["key_feature"] == "Prevention with locks"


def test_list_includes_instructors_presets(client):
    from topics.models import Topic

    SimulationPreset.objects.create(
        topic=Topic.objects.get(slug="race-conditions"), engine="ping-pong", name="Slow link",
        slug="slow-link", params={"latency_ms": 900}, seed=3,
    )
    ping = next(e for e in client.get("/api/simulations").json() if e["slug"] == "ping-pong")
    slow = next(p for p in ping["presets"] if p["slug"] == "slow-link")
    assert slow["source"] == "instructor" and slow["topic"] == "race-conditions" and slow["seed"] == 3


def test_a_run_answers_with_its_frames_and_its_permalink(client):
    # That these are the frames the socket shows is the contract suite's
    # test_the_socket_and_the_api_show_the_same_run, on every engine.
    body = {"params": {"latency_ms": 150}, "seed": 42, "steps": 5, "actions": [{"step": 1, "action": {"type": "drop"}}]}
    response = run(client, **body)
    assert response.status_code == 200
    data = response.json()
    assert [f["index"] for f in data["frames"]] == [0, 1, 2, 3, 4, 5]
    dropped = data["frames"][2]
    assert dropped["metrics"]["lost"] == 1, "the action at step 1 applied before frame 2"
    assert data["run"]["params"]["latency_ms"] == 150 and data["run"]["params"]["rounds"] == 4, "partial params"
    assert data["run"]["actions"] == [{"step": 1, "action": {"type": "drop"}}]
    assert data["run"]["permalink"] and data["done"] is False
    frame = data["frames"][1]
    assert {"index", "time", "entities", "metrics", "events", "narration"} <= set(frame)
    assert {"id", "kind"} <= set(frame["entities"][0])


def test_the_listing_documents_entity_kinds_and_metrics(client):
    race = next(e for e in client.get("/api/simulations").json() if e["slug"] == "race-conditions")
    assert race["entity_kinds"]["thread"]["status"] == "Literal['ready', 'running', 'blocked', 'done']"
    assert set(race["entity_kinds"]) == {"thread", "memory", "lock", "file", "race"}
    assert race["metrics"]["lost_updates"] and race["time_unit"] == ""
    frame = run(client, slug="race-conditions", steps=3).json()["frames"][3]
    for entity in frame["entities"]:
        assert set(entity) - {"id", "kind"} == set(race["entity_kinds"][entity["kind"]])


def test_a_run_stops_at_its_end(client):
    data = run(client, params={"rounds": 1}, steps=60).json()
    assert data["done"] is True and data["frames"][-1]["done"] is True
    assert len(data["frames"]) < 60


def test_defaults_need_no_body_fields(client):
    data = run(client).json()
    assert data["run"]["seed"] == 1 and len(data["frames"]) == 9  # the default game ends at step 8


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"params": {"latency_ms": 5}}, {"params.latency_ms"}),
        ({"params": {"jitter": "nan"}}, {"params.jitter"}),
        ({"params": {"nope": 1}}, {"params.nope"}),
        ({"params": [1]}, {"params"}),
        ({"seed": -1}, {"seed"}),
        ({"seed": 1.5}, {"seed"}),
        ({"seed": 2**40}, {"seed"}),
        ({"steps": 0}, {"steps"}),
        ({"steps": 2001}, {"steps"}),
        ({"steps": "ten"}, {"steps"}),
        ({"actions": [{"step": 1, "action": {"type": "pause", "node": "C"}}]}, {"actions[0].action.node"}),
        ({"actions": [{"step": -1, "action": {"type": "drop"}}]}, {"actions[0].step"}),
        ({"actions": [{"step": 1, "action": {"type": "teleport"}}]}, {"actions[0].action"}),
        ({"actions": "drop"}, {"actions"}),
        ({"params": {"latency_ms": 5}, "seed": -1, "steps": 0}, {"params.latency_ms", "seed", "steps"}),
    ],
)
def test_invalid_input_is_422_naming_the_field(client, body, named):
    response = run(client, **body)
    assert fields(response) == named
    detail = response.json()["detail"][0]
    assert detail["loc"][0] == "body" and detail["msg"]


def test_thousands_of_unknown_params_get_a_short_error_list(client):
    # One error per unknown key made a 2.4 MB body answer with 21 MB.
    response = run(client, params={f"k{i}": 1 for i in range(10_000)})
    detail = response.json()["detail"]
    assert response.status_code == 422 and len(detail) == 21
    assert detail[0]["field"] == "params.k0"
    assert detail[-1]["field"] == "params" and "9980 more errors" in detail[-1]["msg"]


def test_steps_are_bounded_by_the_engine_too(client):
    assert fields(run(client, steps=61)) == {"steps"}  # ping-pong's max_steps is 60
    assert run(client, steps=60).status_code == 200


def test_unknown_simulation_is_a_json_404(client):
    response = run(client, slug="no-such-sim")
    assert response.status_code == 404
    assert "no-such-sim" in response.json()["detail"] and "race-conditions" in response.json()["detail"]


def test_a_body_that_is_not_json_is_rejected(client):
    response = client.post("/api/simulations/ping-pong/runs", "{nope", content_type="application/json")
    assert response.status_code in (400, 422)


def test_analyses_by_get_and_post(client):
    got = client.get("/api/simulations/ping-pong/analyses/summary?rounds=3&latency_ms=200")
    assert got.status_code == 200
    assert got.json()["result"] == {"rounds": 3, "best_case_ms": 1200}
    posted = client.post(
        "/api/simulations/ping-pong/analyses/summary", {"params": {"rounds": 2}}, content_type="application/json"
    )
    assert posted.json()["result"]["best_case_ms"] == 400
    assert client.get("/api/simulations/ping-pong/analyses/nope").status_code == 404
    bad = client.get("/api/simulations/ping-pong/analyses/summary?rounds=0")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "params.rounds"
    assert client.get("/api/simulations/nope/analyses/summary").status_code == 404
