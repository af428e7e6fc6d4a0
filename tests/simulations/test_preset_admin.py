"""The preset form's run editor, topic choices and preview (simulations.admin_views), and the
presets inline on their topic's admin page."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from simulations import registry
from simulations.admin import SimulationPresetForm
from simulations.admin_views import PREVIEW_FRAMES, PREVIEW_PREFIX
from simulations.models import SimulationPreset
from simulations.render.panel import PanelRenderer
from simulations.render.schema_controls import action_variants, params_fields
from simulations.runs import parse_run, replay
from tests.simulations.html import parse
from topics.models import KeyFeature, Topic, UseCase

pytestmark = pytest.mark.django_db

RACE = "race-conditions"
BASE = "/admin/simulations/simulationpreset/"
EDITOR, CHOICES, PREVIEW = BASE + "editor/", BASE + "choices/", BASE + "preview/"


@pytest.fixture
def instructor(client):
    user = User.objects.create_user("teacher", password="pw-12345-long", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(user)
    return user


@pytest.fixture
def topic():
    return Topic.objects.get(slug=RACE)


def run_form(**overrides):
    data = {"engine": RACE, "params": '{"threads": 3}', "seed": "7", "actions": "[]", "preview_step": "0"}
    data.update(overrides)
    return data


def having(root, attr: str, **values) -> list:
    """Elements carrying `attr`, and these attribute values (data_name -> data-name)."""
    wanted = {k.replace("_", "-"): v for k, v in values.items()}
    return [n for n in root.iter() if attr in n.attrs and all(n.attrs.get(k) == v for k, v in wanted.items())]


def selected_option(select):
    return next(o for o in select.find_all("option") if "selected" in o.attrs)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --------------------------------------------------------------------------- who may call them


@pytest.mark.parametrize("url, method", [(EDITOR, "get"), (CHOICES, "get"), (PREVIEW, "post")])
def test_the_views_are_for_staff_who_may_edit_presets(client, url, method):
    call = getattr(client, method)
    response = call(url, run_form())
    assert response.status_code == 302 and "/admin/login/" in response["Location"]  # anonymous

    client.force_login(User.objects.create_user("learner", password="pw-12345-long"))
    response = call(url, run_form())
    assert response.status_code == 302 and "/admin/login/" in response["Location"]  # not staff

    staff = User.objects.create_user("staff", password="pw-12345-long", is_staff=True)
    client.force_login(staff)
    assert call(url, run_form()).status_code == 403  # staff without preset permissions

    staff.user_permissions.add(Permission.objects.get(codename="change_simulationpreset"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached per user object
    client.force_login(staff)
    assert call(url, run_form()).status_code == 200


def test_each_view_takes_one_method(client, instructor):
    assert client.post(EDITOR).status_code == 405
    assert client.post(CHOICES).status_code == 405
    assert client.get(PREVIEW).status_code == 405


def test_the_preview_needs_the_csrf_token(instructor):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(instructor)
    assert strict.post(PREVIEW, run_form()).status_code == 403
    page = strict.get(BASE + "add/")
    token = page.cookies["csrftoken"].value
    response = strict.post(PREVIEW, run_form(), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


# --------------------------------------------------------------------------- the run editor


def test_the_editor_shows_every_parameter_of_the_schema_with_the_json_values(client, instructor):
    engine_cls = registry.get(RACE)
    response = client.get(EDITOR, {"engine": RACE, "params": '{"threads": 3, "fix": "mutex"}', "actions": "[]"})
    assert response.status_code == 200
    root = parse(response.content.decode())
    for spec in params_fields(engine_cls):  # the one reading of the schema
        [wrapper] = having(root, "data-preset-param", data_name=spec.name)
        assert wrapper.attrs["data-kind"] == spec.kind, spec.name
        assert root.find(f"preset-p-{spec.name}") is not None
    assert root.find("preset-p-threads").attrs["value"] == "3"
    assert selected_option(root.find("preset-p-fix")).attrs["value"] == "mutex"
    # Missing values show their defaults.
    assert root.find("preset-p-increments").attrs["value"] == str(engine_cls.Params().increments)


def test_the_editor_puts_each_error_beside_its_control(client, instructor):
    response = client.get(EDITOR, {
        "engine": RACE,
        "params": '{"threads": 9, "bogus": 1, "fix": "teleport"}',
        "actions": '[{"step": 2, "action": {"type": "run_thread", "thread": 7}}, {"step": -1, "action": {"type": "preempt"}}]',
    })
    root = parse(response.content.decode())
    threads = root.find("preset-p-threads")
    assert threads.attrs.get("aria-invalid") == "true"
    assert "less than or equal to 4" in root.find("preset-p-threads-error").text
    # A value the schema does not allow is shown as it is, marked, not silently replaced.
    selected = selected_option(root.find("preset-p-fix"))
    assert selected.attrs["value"] == "teleport" and "not valid" in selected.text
    assert "params.bogus: Unknown field" in text_of(response)
    # Actions: one row each, with the error on the row's own control.
    rows = having(root, "data-preset-action-row")
    assert [r.attrs["data-type"] for r in rows] == ["run_thread", "preempt"]
    assert root.find("preset-a0-thread").attrs["value"] == "7"
    assert "less than or equal to 4" in root.find("preset-a0-thread-error").text
    assert root.find("preset-a1-step").attrs.get("aria-invalid") == "true"
    assert "must be from 0" in root.find("preset-a1-step-error").text


def test_the_action_table_offers_every_action_of_the_schema_with_a_starting_value(client, instructor):
    engine_cls = registry.get(RACE)
    response = client.get(EDITOR, {"engine": RACE, "params": "", "actions": ""})
    root = parse(response.content.decode())
    assert having(root, "data-preset-action-row") == []
    assert "No scripted actions" in text_of(response)
    starter = json.loads(root.find("preset-add-action").attrs["data-starter"])
    first = action_variants(engine_cls)[0]
    assert starter["type"] == first.type
    # The starting action is valid as it is: adding a row never starts with an error.
    parse_run(engine_cls, actions=[{"step": 0, "action": starter}])


def test_actions_the_table_cannot_show_stay_json(client, instructor):
    response = client.get(EDITOR, {"engine": RACE, "params": "{}", "actions": '{"not": "a list"}'})
    assert "cannot be shown as rows" in text_of(response)
    assert "actions: must be a list" in text_of(response)
    response = client.get(EDITOR, {"engine": RACE, "params": "{bad", "actions": "[]"})
    assert "params: is not valid JSON" in text_of(response)


def test_the_editor_without_a_simulation_asks_for_one(client, instructor):
    response = client.get(EDITOR, {"engine": "", "params": "{}", "actions": "[]"})
    assert "Choose a simulation above" in text_of(response)


# --------------------------------------------------------------------------- topic choices


def test_the_key_features_and_use_cases_offered_are_the_topics(client, instructor, topic):
    features = list(KeyFeature.objects.filter(topic=topic).order_by("order", "pk"))
    cases = list(UseCase.objects.filter(topic=topic))
    response = client.get(CHOICES, {"topic": topic.pk, "key_feature": features[1].pk, "use_case": ""})
    html = response.content.decode()
    root = parse(html)
    offered = [o.attrs["value"] for o in root.find_all("option") if o.attrs["value"]]
    assert set(offered) == {str(f.pk) for f in features} | {str(c.pk) for c in cases}
    assert re.search(rf'<option value="{features[1].pk}" selected>', html)
    # The form the page starts with offers the same.
    form = SimulationPresetForm(instance=SimulationPreset(topic=topic))
    assert {kf.pk for kf in form.fields["key_feature"].queryset} == {f.pk for f in features}
    assert SimulationPresetForm().fields["key_feature"].queryset.count() == 0  # no topic yet


def test_a_feature_of_the_previous_topic_is_not_kept(client, instructor, topic):
    other = KeyFeature.objects.exclude(topic=topic).first()
    response = client.get(CHOICES, {"topic": topic.pk, "key_feature": other.pk})
    assert f'value="{other.pk}"' not in response.content.decode()
    response = client.get(CHOICES, {"topic": "nonsense"})
    assert "Choose the topic first" in response.content.decode()


# --------------------------------------------------------------------------- preview


@pytest.mark.parametrize("step", [0, 1, 5])
def test_preview_frames_are_the_replays(client, instructor, step):
    engine_cls = registry.get(RACE)
    actions = [{"step": 1, "action": {"type": "run_thread", "thread": 2}}]
    response = client.post(PREVIEW, run_form(actions=json.dumps(actions), preview_step=str(step)))
    assert response.status_code == 200
    spec = parse_run(engine_cls, {"threads": 3}, 7, actions)
    frame = replay(engine_cls, spec, step)[step]
    expected = PanelRenderer(engine_cls, PREVIEW_PREFIX).frame_html(frame)
    html = response.content.decode()
    assert expected in html
    assert f"Step {step} of" in html
    root = parse(html)
    assert root.find("preset-preview-stage") is not None


def test_preview_steps_stop_at_the_limit(client, instructor):
    engine_cls = registry.get(RACE)
    response = client.post(PREVIEW, run_form(params="{}", preview_step="100000"))
    last = min(PREVIEW_FRAMES, len(replay(engine_cls, parse_run(engine_cls, {}, 7), PREVIEW_FRAMES)) - 1)
    assert f"Step {last} of {last}" in response.content.decode()


@pytest.mark.parametrize("overrides, says", [
    ({"params": '{"threads": 99}'}, "params.threads"),
    ({"params": '{"threads": 4'}, "params: is not valid JSON"),
    ({"params": '{"threads": NaN}'}, "params: is not valid JSON"),
    ({"seed": "-3"}, "seed: must be a whole number"),
    ({"seed": ""}, "seed: must be a whole number"),
    ({"actions": '[{"step": 0, "action": {"type": "teleport"}}]'}, "actions[0].action"),
    ({"engine": "nope"}, "engine: choose a simulation"),
])
def test_preview_errors_name_the_field_and_save_nothing(client, instructor, overrides, says):
    before = SimulationPreset.objects.count()
    response = client.post(PREVIEW, run_form(**overrides))
    assert response.status_code == 200
    assert says in text_of(response)
    assert "preset-preview-stage" not in response.content.decode()
    assert SimulationPreset.objects.count() == before


def test_a_refused_scripted_action_is_reported(client, instructor):
    # Thread 4 does not exist in a two-thread run: the engine refuses it when it comes.
    actions = '[{"step": 0, "action": {"type": "run_thread", "thread": 4}}]'
    response = client.post(PREVIEW, run_form(params='{"threads": 2}', actions=actions))
    assert "Step 0:" in text_of(response) and "was not applied" in text_of(response)


# --------------------------------------------------------------------------- the form pages


def test_the_add_form_leads_with_the_simulation_and_loads_no_inline_script(client, instructor):
    html = client.get(BASE + "add/").content.decode()
    assert html.index('name="engine"') < html.index('name="topic"') < html.index('name="key_feature"')
    assert 'id="preset-run-editor"' in html and f'hx-get="{EDITOR}"' in html
    assert f'hx-post="{PREVIEW}"' in html
    assert "/static/django_htmx/htmx-2.min.js" in html and "/static/js/preset_admin.js" in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag  # CSP: no inline script
    assert not re.search(r"\son[a-z]+=", html)


def test_saving_still_validates_the_json_and_saves_nothing_on_error(client, instructor, topic):
    data = {"engine": RACE, "topic": topic.pk, "key_feature": "", "use_case": "", "name": "Three",
            "slug": "three-threads", "description": "", "params": '{"threads": 9}', "seed": 1,
            "actions": "[]", "order": 0, "_save": "Save"}
    response = client.post(BASE + "add/", data)
    assert response.status_code == 200 and "params.threads" in response.content.decode()
    assert not SimulationPreset.objects.filter(slug="three-threads").exists()
    response = client.post(BASE + "add/", {**data, "params": '{"threads": 3}', "p.threads": "junk"})
    assert response.status_code == 302  # the generated controls' own names are ignored: the JSON counts
    assert SimulationPreset.objects.get(slug="three-threads").params == {"threads": 3}


# --------------------------------------------------------------------------- inline on the topic


def test_presets_are_listed_and_editable_on_their_topic(client, instructor, topic):
    page = client.get(f"/admin/topics/topic/{topic.pk}/change/")
    html = page.content.decode()
    presets = list(SimulationPreset.objects.filter(topic=topic).order_by("order", "name"))
    assert presets and 'id="simulation_presets-group"' in html
    for preset in presets:
        assert f'value="{preset.slug}"' in html
        assert f"/admin/simulations/simulationpreset/{preset.pk}/change/" in html  # its full form
    # The key features offered on a preset's row are the topic's own.
    options = page.context["inline_admin_formsets"][-1].formset.forms[0].fields["key_feature"].queryset
    assert set(options.values_list("topic_id", flat=True)) == {topic.pk}


def test_renaming_a_preset_on_its_topic(client, instructor, topic):
    presets = list(SimulationPreset.objects.filter(topic=topic).order_by("order", "name"))
    page = client.get(f"/admin/topics/topic/{topic.pk}/change/")
    formset = page.context["inline_admin_formsets"]
    data = {}
    for inline in formset:
        fs = inline.formset
        data.update({f"{fs.prefix}-{k}": v for k, v in fs.management_form.initial.items()})
        for form in fs.forms:
            for name, field in form.fields.items():
                value = form.initial.get(name, field.initial)
                data[form.add_prefix(name)] = "" if value is None else getattr(value, "pk", value)
    top = page.context["adminform"].form
    for name in top.fields:
        value = top.initial.get(name)
        data[name] = "" if value is None else getattr(value, "pk", value)
    index = next(i for i, f in enumerate(formset[-1].formset.forms) if f.instance.pk == presets[0].pk)
    data[f"simulation_presets-{index}-name"] = "Renamed on its topic"
    response = client.post(f"/admin/topics/topic/{topic.pk}/change/", data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert SimulationPreset.objects.get(pk=presets[0].pk).name == "Renamed on its topic"

    # A preset whose saved run no longer fits its engine: an error on its row, not a 500.
    SimulationPreset.objects.filter(pk=presets[0].pk).update(params={"threads": 99})
    response = client.post(f"/admin/topics/topic/{topic.pk}/change/", data)
    assert response.status_code == 200
    assert "params: params.threads" in response.content.decode()
