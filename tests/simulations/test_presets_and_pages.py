"""Presets (model, admin, seed data) and the topic page's panels: ?preset=, ?run=, ?step=."""

from __future__ import annotations

import base64
import re
import zlib
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import Group, User

from simulations import registry
from simulations.admin import SimulationPresetForm
from simulations.models import SimulationPreset
from simulations.render.panel import PanelRenderer
from simulations.runs import RunSession, decode_run, encode_run, parse_run
from tests.simulations.html import parse
from topics.models import KeyFeature, Topic

pytestmark = pytest.mark.django_db

RACE = "race-conditions"
PANEL = "sim-race-conditions"


@pytest.fixture
def topic():
    return Topic.objects.get(slug=RACE)


def page(client, query: str = ""):
    response = client.get(f"/topics/{RACE}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def ws_state(html: str, prefix: str = PANEL):
    """(engine, spec, step) from the panel's ws-connect URL: what the socket will open."""
    root = parse(html)
    section = root.find(prefix)
    assert section is not None, f"no panel {prefix}"
    query = parse_qs(urlparse(section.attrs["ws-connect"]).query)
    engine_cls, spec = decode_run(query["run"][0], registry.get)
    return engine_cls, spec, int(query["step"][0]), root


def session_log(engine_cls, run, step):
    session = RunSession(engine_cls, run)
    session.seek(step)
    return session.log()


def _nested_token() -> str:
    raw = b'{"e":"race-conditions","p":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return "1" + base64.urlsafe_b64encode(packer.compress(raw) + packer.flush()).decode().rstrip("=")


def form_data(topic, **overrides):
    data = {
        "topic": topic.pk, "key_feature": "", "engine": RACE, "name": "Four threads", "slug": "four-threads",
        "description": "", "params": '{"threads": 4}', "seed": 3, "actions": "[]", "order": 0,
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- seed data and permissions


def test_each_key_feature_of_the_topic_has_a_seeded_preset(topic):
    expected = {
        "Detection through testing": "counter-lost-update",
        "Prevention with locks": "counter-mutex",
        "Race detection tools": "race-detector",
        "Debugging with sanitizers": "double-checked-locking",
    }
    for text, slug in expected.items():
        preset = SimulationPreset.objects.get(slug=slug)
        assert preset.topic == topic and preset.key_feature.text == text
        preset.run_spec()  # still valid against the engine
    engine_presets = {p.slug for p in registry.get(RACE).presets}
    assert engine_presets <= set(SimulationPreset.objects.filter(topic=topic).values_list("slug", flat=True))


def test_instructors_manage_presets_fully():
    # Issue 8: a preset attached by mistake must be removable by the instructors themselves.
    codenames = set(Group.objects.get(name="Instructors").permissions.values_list("codename", flat=True))
    assert {"add_simulationpreset", "change_simulationpreset", "view_simulationpreset",
            "delete_simulationpreset"} <= codenames


# --------------------------------------------------------------------------- admin validation


def test_the_admin_form_names_the_bad_param(topic):
    form = SimulationPresetForm(data=form_data(topic, params='{"threads": 9, "fix": "teleport"}'))
    assert not form.is_valid()
    text = " ".join(form.errors["params"])
    assert "params.threads" in text and "params.fix" in text


def test_the_admin_form_names_the_bad_action(topic):
    form = SimulationPresetForm(
        data=form_data(topic, actions='[{"step": 0, "action": {"type": "run_thread", "thread": 7}}]')
    )
    assert not form.is_valid()
    assert "actions[0].action.thread" in " ".join(form.errors["actions"])
    form = SimulationPresetForm(data=form_data(topic, actions='{"not": "a list"}'))
    assert not form.is_valid() and "actions" in form.errors


@pytest.mark.parametrize("field, text, says", [
    ("params", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("params", '{"threads": NaN}', "NaN"),
    ("actions", '[{"step": Infinity, "action": {"type": "run_thread", "thread": 0}}]', "Infinity"),
    ("params", '{"threads": 4', "Enter a valid JSON"),
])
def test_the_admin_form_refuses_json_no_run_can_hold(client, topic, field, text, says):
    """Too deep to parse, or NaN/Infinity (PostgreSQL's jsonb refuses them): a field error
    on the page, not a 500, and nothing saved."""
    form = SimulationPresetForm(data=form_data(topic, **{field: text}))
    assert not form.is_valid()
    assert says in " ".join(form.errors[field])
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw-12345-long"))
    response = client.post("/admin/simulations/simulationpreset/add/", form_data(topic, **{field: text}))
    assert response.status_code == 200 and says in response.content.decode()
    assert not SimulationPreset.objects.filter(slug="four-threads").exists()


def test_the_admin_form_rejects_a_key_feature_of_another_topic(topic):
    other = KeyFeature.objects.exclude(topic=topic).first()
    form = SimulationPresetForm(data=form_data(topic, key_feature=other.pk))
    assert not form.is_valid()
    assert "another topic" in " ".join(form.errors["key_feature"])


def test_the_admin_form_accepts_a_valid_preset_and_empty_json_means_defaults(topic):
    form = SimulationPresetForm(data=form_data(topic, params="", actions=""))
    assert form.is_valid(), form.errors
    preset = form.save()
    assert preset.params == {} and preset.actions == []
    assert preset.run_spec().params == registry.get(RACE).Params()


def test_admin_pages_show_the_errors_and_warn_about_another_topics_engine(client, topic):
    admin = User.objects.create_superuser("admin", "a@example.com", "pw-12345-long")
    client.force_login(admin)
    response = client.post("/admin/simulations/simulationpreset/add/", form_data(topic, params='{"threads": 99}'))
    assert response.status_code == 200
    assert "params.threads" in response.content.decode()
    assert not SimulationPreset.objects.filter(slug="four-threads").exists()

    other_topic = Topic.objects.exclude(slug=RACE).first()
    response = client.post(
        "/admin/simulations/simulationpreset/add/",
        form_data(other_topic, engine=RACE, slug="elsewhere", params="{}"),
        follow=True,
    )
    assert response.status_code == 200
    assert SimulationPreset.objects.filter(slug="elsewhere").exists()
    assert "is the simulation of the topic" in response.content.decode()


def test_an_instructor_can_open_the_preset_admin(client):
    user = User.objects.create_user("teacher", password="pw-12345-long", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(user)
    assert client.get("/admin/simulations/simulationpreset/").status_code == 200
    assert client.get("/admin/simulations/simulationpreset/add/").status_code == 200
    preset = SimulationPreset.objects.first()
    assert client.get(f"/admin/simulations/simulationpreset/{preset.pk}/delete/").status_code == 200
    response = client.post(f"/admin/simulations/simulationpreset/{preset.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not SimulationPreset.objects.filter(pk=preset.pk).exists()


# --------------------------------------------------------------------------- "See it" links


def test_key_features_and_use_cases_with_a_preset_get_a_see_it_link(client, topic):
    html = page(client)
    features = html.split('id="key-features"', 1)[1].split("</section>", 1)[0]
    use_cases = html.split('id="use-cases"', 1)[1].split("</section>", 1)[0]
    link = r'<a class="sim-see-it" href="/topics/race-conditions/\?preset=([a-z-]+)#sim-race-conditions">See it'
    assert sorted(re.findall(link, features)) == sorted(
        ["counter-lost-update", "counter-mutex", "race-detector", "double-checked-locking"])
    assert sorted(re.findall(link, use_cases)) == sorted(
        ["counter-lost-update", "check-then-act", "double-checked-locking", "file-append-race"])
    # The instructors' copy of a preset decides: without its feature, that feature has no link.
    SimulationPreset.objects.filter(slug="race-detector").update(key_feature=None)
    assert page(client).count('class="sim-see-it"') == 7


def test_the_see_it_link_opens_the_panel_in_that_state(client):
    html = page(client, "?preset=counter-mutex")
    engine_cls, spec, step, root = ws_state(html)
    assert engine_cls.slug == RACE and spec.params.fix == "mutex" and step == 0
    assert "Counter with a mutex" in root.find(PANEL).text
    assert 'aria-current="true"' in html


# --------------------------------------------------------------------------- the page's panel


def test_the_page_renders_the_first_frame_on_the_server(client):
    html = page(client)
    engine_cls, spec, step, root = ws_state(html)
    assert step == 0 and spec == parse_run(engine_cls, {}, 1)
    stage = root.find(f"{PANEL}-stage")
    assert stage is not None and stage.tag == "div"  # issue 8: one svg per column, so a phone can stack them
    assert stage.find_all("svg")
    assert root.find(f"{PANEL}-narration").attrs["aria-live"] == "polite"
    assert root.find(f"{PANEL}-narration").text.strip()
    assert root.find(f"{PANEL}-timeline").attrs["type"] == "range"
    assert root.find(f"{PANEL}-play-button").text.strip() == "Play"
    assert root.find(f"{PANEL}-params").find(f"{PANEL}-p-threads").attrs["max"] == "4"
    assert 'href="/static/js/simulations.js"' in html or "/static/js/simulations.js" in html
    assert html.count("simulations.css") == 1


def test_a_permalink_opens_the_same_run_at_the_same_step(client):
    engine_cls = registry.get(RACE)
    run = parse_run(engine_cls, {"threads": 3, "fix": "atomic"}, 9, [[0, {"type": "run_thread", "thread": 2}]])
    html = page(client, f"?run={encode_run(engine_cls, run)}&step=4")
    _, spec, step, root = ws_state(html)
    assert spec == run and step == 4
    assert root.find(f"{PANEL}-counter").text.startswith("Step 4")
    assert len(root.find(f"{PANEL}-log").find_all("li")) == len(session_log(engine_cls, run, 4))
    session = RunSession(engine_cls, run)
    session.seek(4)
    expected = PanelRenderer(engine_cls, PANEL).stage(session.frame)
    assert expected in html


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?run=1garbage", "run link could not be opened"),
        ("?run=" + "A" * 9000, "run link could not be opened"),
        # 147 characters that inflate to JSON nested deeper than json.loads can go (was a 500).
        ("?run=" + _nested_token(), "run link could not be opened"),
        ("?step=abc", "step is not valid"),
        ("?step=999999", "step is not valid"),
        ("?preset=nope", "no preset called"),
        ("?preset=%3Cscript%3E", "no preset called"),
    ],
)
def test_bad_query_values_show_the_default_run_and_a_notice(client, query, says):
    html = page(client, query)
    engine_cls, spec, step, root = ws_state(html)
    assert spec == parse_run(engine_cls, {}, 1) and step == 0
    assert says in root.find(f"{PANEL}-error").text
    assert "<script>" not in html.split("<body", 1)[1].replace("<script src", "")


def test_a_permalink_for_an_engine_this_page_does_not_show_is_a_notice(client):
    ping = registry.get("ping-pong")
    html = page(client, f"?run={encode_run(ping, parse_run(ping, {}, 1))}")
    assert "which this page does not show" in parse(html).find(f"{PANEL}-error").text


def test_a_preset_with_another_topics_engine_adds_a_panel(client, topic):
    SimulationPreset.objects.create(topic=topic, engine="ping-pong", name="Lossy", slug="lossy-db",
                                    params={"latency_ms": 700}, seed=5)
    html = page(client, "?preset=lossy-db")
    engine_cls, spec, _, root = ws_state(html, "sim-ping-pong")
    assert engine_cls.slug == "ping-pong" and spec.params.latency_ms == 700 and spec.seed == 5
    assert root.find(PANEL) is not None, "the topic's own panel is still there"


def test_a_built_in_preset_works_without_a_database_row(client):
    SimulationPreset.objects.filter(slug="file-append-race").delete()
    _, spec, _, _ = ws_state(page(client, "?preset=file-append-race"))
    assert spec.params.scenario == "file_access"


def test_a_preset_that_no_longer_fits_its_engine_is_a_notice_not_a_500(client):
    SimulationPreset.objects.filter(slug="counter-mutex").update(params={"threads": 99})
    html = page(client, "?preset=counter-mutex")
    assert "no longer fits" in parse(html).find(f"{PANEL}-error").text
    assert "params.threads" in html


def test_panels_and_see_it_links_cost_one_query(client):
    """Presets for the panels and every "See it" link come from one query per page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        html = page(client)
    preset_queries = [q["sql"] for q in queries.captured_queries if "simulationpreset" in q["sql"]]
    assert len(preset_queries) == 1
    assert html.count('class="sim-see-it"') == 8, "four key features and four use cases"


def test_the_panel_stands_after_the_explanation_s_opening_section_with_see_it_links(client):
    """Issue 8: the panel goes where the prose first needs it, after the body's first
    section (what a race is) and before the second (lost updates)."""
    html = page(client)
    lede = html.index('class="lede"')
    how = html.index('id="how-it-works"')
    panel = html.index(f'id="{PANEL}"')
    sections = [m.start() for m in re.finditer(r"<h2\b", html[how:])][0:2]
    assert lede < how < how + sections[0] < panel < how + sections[1]
    features = html.split('id="key-features"', 1)[1].split("</ul>", 1)[0]
    items = re.findall(r"<li\b.*?</li>", features, flags=re.S)
    with_links = [item for item in items if 'class="sim-see-it"' in item]
    presets = {p.key_feature.text for p in SimulationPreset.objects.filter(topic__slug=RACE, key_feature__isnull=False)}
    assert presets and len(with_links) == len(presets)
    for text in presets:
        item = next(i for i in items if text in i)
        assert "See it" in item and "?preset=" in item
