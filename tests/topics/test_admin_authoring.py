"""Authoring in the admin: the body's live preview, ↑/↓ reordering and duplicate order numbers."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.topics.test_admin import change_form_data
from topics.models import Topic

pytestmark = pytest.mark.django_db
PREVIEW = reverse("admin:topics_topic_preview")


def test_preview_renders_with_the_public_pages_renderer_and_sanitiser(instructor_client):
    body = "## Hello\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://nginx.org/)"
    response = instructor_client.post(PREVIEW, {"body": body}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>Hello</h2>" in html and "<strong>bold</strong>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "href=\"javascript" not in html  # refused as a link: shown as text
    assert '<a href="https://nginx.org/" rel="noopener noreferrer">ok</a>' in html
    assert "<html" not in html  # a fragment for the pane


def test_preview_of_an_empty_or_overlong_body_says_so(instructor_client):
    assert "Nothing to preview yet" in instructor_client.post(PREVIEW, {"body": ""}).content.decode()
    page = instructor_client.post(PREVIEW, {"body": "x" * 100_001}).content.decode()
    assert "too long to preview" in page


def test_preview_is_post_only_staff_only_and_csrf_protected(instructor_client, instructor, django_user_model):
    assert instructor_client.get(PREVIEW).status_code == 405
    anonymous = Client().post(PREVIEW, {"body": "x"})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    student = Client()
    student.force_login(django_user_model.objects.create_user(username="student", password="x"))
    assert student.post(PREVIEW, {"body": "x"}).status_code == 302
    viewer = Client()
    viewer_user = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer_user.user_permissions.add(Permission.objects.get(codename="view_topic"))
    viewer.force_login(viewer_user)
    assert viewer.post(PREVIEW, {"body": "x"}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(instructor)
    assert strict.post(PREVIEW, {"body": "x"}).status_code == 403


def test_change_form_has_the_preview_pane_and_reorder_script_and_no_inline_script(instructor_client):
    topic = Topic.objects.get(slug="dns")
    page = instructor_client.get(reverse("admin:topics_topic_change", args=[topic.pk])).content.decode()
    pane = page.split('id="id_body-preview"', 1)[1].split(">", 1)[0]
    assert f'hx-post="{PREVIEW}"' in pane
    assert 'hx-params="body,csrfmiddlewaretoken"' in pane
    assert "from:#id_body" in pane
    assert 'aria-live="polite"' in pane
    assert "/static/django_htmx/htmx-2.min.js" in page
    assert "/static/topics_admin/ordered-rows.js" in page
    assert "/static/topics_admin/topic-admin.css" in page
    assert page.count('class="module ordered-rows') == 3 or page.count("ordered-rows") >= 3
    # CSP-ready: every script is a file, no inline handler in what this app adds.
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page)
    ours = page.split('id="id_body-preview"', 1)[0].rsplit('<div class="markdown-editor">', 1)[1]
    assert not re.search(r"\son[a-z]+=", ours) and "style=" not in ours


def test_duplicate_order_numbers_are_a_formset_error_naming_the_rows(instructor_client):
    topic = Topic.objects.get(slug="dns")
    url = reverse("admin:topics_topic_change", args=[topic.pk])
    response = instructor_client.get(url)
    data = change_form_data(response)
    forms = response.context["inline_admin_formsets"][0].formset.forms
    data[forms[1].add_prefix("order")] = data[forms[0].add_prefix("order")]
    data["summary"] = "Not saved."
    response = instructor_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == [
        "Rows 1 (“A/AAAA records for IP addresses”), 2 (“CNAME for aliasing”) all have order 0. "
        "Give each row its own position, for example with the ↑ and ↓ buttons."
    ]
    assert "CNAME for aliasing" in response.content.decode()
    topic.refresh_from_db()
    assert topic.summary != "Not saved."


def test_a_deleted_row_may_share_an_order_number(instructor_client):
    topic = Topic.objects.get(slug="dns")
    url = reverse("admin:topics_topic_change", args=[topic.pk])
    response = instructor_client.get(url)
    data = change_form_data(response)
    forms = response.context["inline_admin_formsets"][1].formset.forms  # use cases
    data[forms[1].add_prefix("order")] = data[forms[0].add_prefix("order")]
    data[forms[1].add_prefix("DELETE")] = "on"
    assert instructor_client.post(url, data).status_code == 302
    assert topic.use_cases.count() == 3


def test_reordering_by_swapped_numbers_is_saved_and_shown(instructor_client, client):
    topic = Topic.objects.get(slug="dns")
    url = reverse("admin:topics_topic_change", args=[topic.pk])
    response = instructor_client.get(url)
    data = change_form_data(response)
    forms = response.context["inline_admin_formsets"][0].formset.forms
    first, second = forms[0].add_prefix("order"), forms[1].add_prefix("order")
    data[first], data[second] = data[second], data[first]  # what the ↓ button of row 1 does
    assert instructor_client.post(url, data).status_code == 302
    assert list(topic.key_features.values_list("text", flat=True))[:2] == [
        "CNAME for aliasing", "A/AAAA records for IP addresses",
    ]


def test_a_browsers_crlf_line_breaks_are_saved_as_the_bodys_own(instructor_client):
    topic = Topic.objects.get(slug="dns")
    url = reverse("admin:topics_topic_change", args=[topic.pk])
    response = instructor_client.get(url)
    data = change_form_data(response)
    data["body"] = topic.body.replace("\n", "\r\n")  # what a browser sends for the untouched textarea
    feature = response.context["inline_admin_formsets"][0].formset.forms[0]
    data[feature.add_prefix("detail")] = "Line one.\r\nLine two."
    assert instructor_client.post(url, data).status_code == 302
    saved = Topic.objects.get(pk=topic.pk)
    assert saved.body == topic.body
    assert saved.key_features.first().detail == "Line one.\nLine two."
    assert not [c for c in saved.history.latest("history_date").diff_against(
        saved.history.order_by("history_date").first()).changes if c.field == "body"]
