"""What every engine promises the rest of the site (simulations/engines/base.py), checked on
each registered engine: determinism across processes, frame 0, narration, seeking,
permalinks, bounded params, presets that play, declared entities and metrics, a stage
that draws, snapshots, and the socket and the API agreeing about a run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.engines.base import kind_fields
from simulations.models import SimulationPreset
from simulations.presets import presets_for
from simulations.render import stage_for
from simulations.render.panel import PanelRenderer, default_prefix
from simulations.routing import websocket_urlpatterns
from simulations.runs import RunSession, decode_run, encode_run, new_engine, parse_run, replay
from tests.simulations.contract.cases import HORIZON, dicts, runs_of
from tests.simulations.sockets import receive

ROOT = Path(__file__).resolve().parents[3]
SVG = "{http://www.w3.org/2000/svg}svg"
TEXT = "{http://www.w3.org/2000/svg}text"
# --------------------------------------------------------------------------- determinism

_DIGEST = """
import hashlib, json, sys
from simulations import registry
from simulations.runs import parse_run, replay
from tests.simulations.pingpong import PingPong
from tests.simulations.contract.cases import runs_of, HORIZON
with registry.installed(PingPong):
    engine = registry.get(sys.argv[1])
    out = [[f.to_dict() for f in replay(engine, run, HORIZON)] for run in runs_of(engine)]
print(hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest())
"""


def _digest(slug: str, hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "DJANGO_SETTINGS_MODULE": "learning_platform.settings"}
    result = subprocess.run([sys.executable, "-c", _DIGEST, slug], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_same_run_same_frames_in_fresh_processes_with_different_hash_seeds(engine):
    here = json.dumps([dicts(replay(engine, run, HORIZON)) for run in runs_of(engine)], sort_keys=True)
    import hashlib

    assert _digest(engine.slug, "1") == _digest(engine.slug, "4242") == hashlib.sha256(here.encode()).hexdigest()


# --------------------------------------------------------------------------- frames


def test_frame_zero_is_a_fresh_engines_reset(engine):
    for run in runs_of(engine):
        fresh = new_engine(engine, run)
        assert RunSession(engine, run).frame.to_dict() == fresh.reset().to_dict()


def test_every_frame_has_a_narration_and_counts_up(engine):
    for run in runs_of(engine):
        frames = replay(engine, run, HORIZON)
        assert [f.index for f in frames] == list(range(len(frames)))
        for f in frames:
            assert f.narration.strip(), f"frame {f.index} has no narration"
        times = [f.time for f in frames]
        assert times == sorted(times), "time never runs backwards"


def test_every_entity_is_of_a_declared_kind_with_exactly_its_fields(engine):
    assert engine.entity_kinds, "an engine declares its entity kinds"
    declared = {kind: set(kind_fields(t)) for kind, t in engine.entity_kinds.items()}
    for run in runs_of(engine):
        for frame in replay(engine, run, HORIZON):
            for entity in frame.entities:
                assert entity.kind in declared, f"undeclared kind {entity.kind!r}"
                assert set(entity.state) == declared[entity.kind], (entity.kind, set(entity.state) ^ declared[entity.kind])
            assert set(frame.metrics) <= set(engine.metrics), set(frame.metrics) - set(engine.metrics)


def test_seeking_back_gives_the_frames_computed_going_forward(engine):
    for run in runs_of(engine):
        session = RunSession(engine, run)
        forward = [session.seek(i).to_dict() for i in range(HORIZON + 1)]
        last = session.last
        backward = [session.seek(i).to_dict() for i in range(last, -1, -1)][::-1]
        assert backward == forward[: last + 1]


def test_a_snapshot_goes_on_exactly_as_the_engine_would(engine):
    for run in runs_of(engine):
        engine_a = new_engine(engine, run)
        engine_a.reset()
        for _ in range(5):
            if engine_a.done:
                break
            engine_a.step()
        copy = engine_a.snapshot()
        ahead = [engine_a.step().to_dict() for _ in range(10) if not engine_a.done]
        assert [copy.step().to_dict() for _ in range(len(ahead))] == ahead


def test_a_branch_behind_the_live_edge_equals_the_run_played_from_the_start(engine):
    for run in runs_of(engine)[1:]:
        if not run.actions:
            continue
        session = RunSession(engine, parse_run(engine, run.params.model_dump(), run.seed))
        session.seek(HORIZON)
        session.seek(run.actions[0].step)
        session.apply(run.actions[0].action)
        session.seek(HORIZON)
        branched = session.spec
        assert dicts(session.frames) == dicts(replay(engine, branched, session.last))


# --------------------------------------------------------------------------- runs and links


def test_a_run_with_actions_survives_the_permalink_round_trip(engine):
    for run in runs_of(engine):
        token = encode_run(engine, run)
        decoded_engine, decoded = decode_run(token, {engine.slug: engine}.get)
        assert decoded_engine is engine and decoded == run
        assert dicts(replay(engine, decoded, HORIZON)) == dicts(replay(engine, run, HORIZON))


def _bounded(schema, node, path):
    if "$ref" in node:
        node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, ()):
            _bounded(schema, option, path)
    kind = node.get("type")
    if "enum" in node or "const" in node or kind in ("boolean", "null") or kind is None:
        return
    if kind in ("integer", "number"):
        assert ("minimum" in node or "exclusiveMinimum" in node) and ("maximum" in node or "exclusiveMaximum" in node), path
    elif kind == "string":
        assert "maxLength" in node or "pattern" in node, path
    elif kind == "array":
        assert "maxItems" in node, path
        _bounded(schema, node.get("items", {}), path + "[]")
    elif kind == "object":
        for name, prop in node.get("properties", {}).items():
            _bounded(schema, prop, f"{path}.{name}")
        assert not node.get("additionalProperties", False) or "maxProperties" in node, path


def test_every_param_and_action_field_is_bounded(engine):
    schema = engine.Params.model_json_schema()
    for name, prop in schema.get("properties", {}).items():
        _bounded(schema, prop, name)
    actions = engine.action_adapter().json_schema()
    _bounded(actions, actions, "action")


@pytest.mark.django_db
def test_every_preset_validates_and_plays_to_its_end(engine):
    seeded = SimulationPreset.objects.select_related("topic", "key_feature")
    for preset in presets_for(engine, seeded):
        run = preset.run_spec()
        session = RunSession(engine, run)
        session.seek(engine.max_steps)
        assert session.finished, f"preset {preset.slug} neither ends nor reaches max_steps"
        rejected = [e.text for i in range(session.last + 1) for e in session.events_at(i) if e.kind == "rejected"]
        assert not rejected, f"preset {preset.slug}: {rejected}"


# --------------------------------------------------------------------------- drawing


def test_every_frame_draws_as_svg_that_parses(engine):
    stage = stage_for(engine)
    for run in runs_of(engine):
        for frame in replay(engine, run, HORIZON):
            markup = stage.stage(frame, "stage-id")
            root = ET.fromstring(markup)  # well-formed: one top-level element
            assert root.get("id") == "stage-id"
            # One <svg>, or a <div> of them (a stage that reflows at phone width): every
            # drawing keeps its <svg> parent (DESIGN.md: SVG children alone draw nothing).
            svgs = [root] if root.tag == SVG else [child for child in root.iter() if child.tag == SVG]
            assert root.tag in (SVG, "div") and svgs, root.tag
            for drawing in svgs:
                assert drawing.get("viewBox"), "a viewBox, so the stage scales"


def _unsized_texts(el: ET.Element, sized: bool = False):
    sized = sized or el.get("font-size") is not None
    if el.tag == TEXT and not sized and "".join(el.itertext()).strip():
        yield "".join(el.itertext())
    for child in el:
        yield from _unsized_texts(child, sized)


def test_every_text_has_its_size_from_the_stage(engine):
    """A stage lays out and cuts its text at its own font size; a text that inherited the
    page's (17 px on a desktop, 16 on a phone) ran out of TCP's endpoint and layer boxes."""
    stage = stage_for(engine)
    for run in runs_of(engine):
        for frame in replay(engine, run, HORIZON):
            unsized = list(_unsized_texts(ET.fromstring(stage.stage(frame, "stage-id"))))
            assert not unsized, (engine.slug, frame.index, unsized[:3])


_RENDER = """
import hashlib, sys
from simulations import registry, render
from simulations.render.panel import PanelRenderer
from simulations.runs import replay
from tests.simulations.pingpong import PingPong
from tests.simulations.contract.cases import runs_of, HORIZON
with registry.installed(PingPong), render.installed(PingPong.slug, render.GENERIC):
    engine = registry.get(sys.argv[1])
    panel = PanelRenderer(engine, "p")
    html = "".join(panel.frame_html(f) for run in runs_of(engine) for f in replay(engine, run, HORIZON))
print(hashlib.sha256(html.encode()).hexdigest())
"""


def test_the_drawing_of_a_run_is_the_same_in_another_process(engine):
    env = {**os.environ, "PYTHONHASHSEED": "777", "DJANGO_SETTINGS_MODULE": "learning_platform.settings"}
    result = subprocess.run([sys.executable, "-c", _RENDER, engine.slug], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    import hashlib

    panel = PanelRenderer(engine, "p")
    here = "".join(panel.frame_html(f) for run in runs_of(engine) for f in replay(engine, run, HORIZON))
    assert result.stdout.strip() == hashlib.sha256(here.encode()).hexdigest()


# --------------------------------------------------------------------------- the two edges


@pytest.mark.django_db(transaction=True)
async def test_the_socket_and_the_api_show_the_same_run(engine, async_client):
    from asgiref.sync import sync_to_async

    # A preset's run where there is one: it shows the engine doing what it is for (an
    # engine may wait for the learner in its default run, where the API would step on).
    run = parse_run(engine, **engine.presets[0].run_data()) if engine.presets else runs_of(engine)[-1]
    steps = 12
    body = {**run.to_dict(engine), "steps": steps}
    body.pop("slug")
    response = await async_client.post(f"/api/simulations/{engine.slug}/runs", body, content_type="application/json")
    assert response.status_code == 200, response.content
    api_frames = response.json()["frames"]

    prefix = default_prefix(engine.slug)
    path = f"/ws/simulations/{engine.slug}/?panel={prefix}&run={encode_run(engine, run)}"
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    comm.scope["client"] = ("10.3.3.3", 1)
    assert (await comm.connect())[0]
    await comm.receive_from(2)
    panel = PanelRenderer(engine, prefix)
    from simulations.engines.base import Entity, Event, Frame
    from simulations.render.svg import ascii_markup

    def tuples(value):  # JSON has lists where a frame holds tuples
        if isinstance(value, list):
            return tuple(tuples(v) for v in value)
        if isinstance(value, dict):
            return {k: tuples(v) for k, v in value.items()}
        return value

    def frame_of(data):
        entities = tuple(Entity(e["id"], e["kind"], {k: tuples(v) for k, v in e.items() if k not in ("id", "kind")})
                         for e in data["entities"])
        return Frame(data["index"], data["time"], entities, data["metrics"],
                     tuple(Event(**ev) for ev in data["events"]), data["narration"], data["done"])

    for expected in api_frames[1:]:
        await comm.send_to(text_data=json.dumps({"cmd": "step"}))
        msg = await receive(comm)
        counter = msg.el(f"{prefix}-counter").text
        assert counter.startswith(f"Step {expected['index']}"), counter
        assert msg.oob(f"{prefix}-narration", "innerHTML").text == expected["narration"]
        metrics = msg.el(f"{prefix}-metrics")
        assert len(metrics.find_all("dd")) == len(expected["metrics"])
        # The API's frame, drawn by the panel, is what the socket sent (as ASCII: ascii_markup).
        assert await sync_to_async(lambda: msg.raw(f"{prefix}-stage"))() == ascii_markup(panel.stage(frame_of(expected)))
    await comm.disconnect()


async def test_every_action_button_works_through_the_socket(engine):
    """Each button the panel shows for the default run, pressed at frame 0 and again a few
    steps on, is carried out or refused with the engine's reason: never a server error."""
    from simulations.render.schema_controls import action_controls

    prefix = default_prefix(engine.slug)
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/simulations/{engine.slug}/?panel={prefix}")
    comm.scope["client"] = ("10.3.3.4", 1)
    assert (await comm.connect())[0]
    await receive(comm)
    controls = [c for c in action_controls(engine, engine.parse_params({})) if not c.inputs]
    assert controls or not engine.action_adapter().json_schema(), "an engine with actions offers buttons"
    for when in ("start", "later"):
        if when == "later":
            for _ in range(5):
                await comm.send_to(text_data=json.dumps({"cmd": "step"}))
                await receive(comm)
        for control in controls:
            await asyncio.sleep(1 / 15)  # a person's pace, inside the socket's 20 messages a second
            await comm.send_to(text_data=json.dumps({"cmd": "action", **{f"a.{k}": v for k, v in control.fixed}}))
            msg = await receive(comm)
            node = msg.oob(f"{prefix}-error", "innerHTML")
            said = node.text if node else ""
            assert "went wrong" not in said and "not accepted" not in said, (control.label, said)
    await comm.disconnect()
