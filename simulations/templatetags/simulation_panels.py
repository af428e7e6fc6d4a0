"""Template tags the topic page uses to show simulations. They render what
`simulations.panels.build_panels` built (the topic view calls it) and query nothing.

- `{% simulation_assets %}`: the panels' CSS and JS (in the page's <head>; emitted once);
- `{% simulation_panels sims %}`: one live panel per engine of the topic;
- `{% feature_preset_link sims feature %}` and `{% use_case_preset_link sims use_case %}`: a
  "See it" link for a key feature or use case that a preset demonstrates.
"""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_ASSETS_KEY = "simulations_assets_emitted"


def _assets(context) -> str:
    if context.render_context.get(_ASSETS_KEY):
        return ""
    # render_context is per template; remember on the request too (one per page).
    request = context.get("request")
    if request is not None:
        if getattr(request, "_simulation_assets", False):
            return ""
        request._simulation_assets = True
    context.render_context[_ASSETS_KEY] = True
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("css/simulations.css"),
        static("js/simulations.js"),
    )


@register.simple_tag(takes_context=True)
def simulation_assets(context) -> SafeString:
    """The panels' stylesheet and script (put it in the page's <head>; emitted once)."""
    return mark_safe(_assets(context))


@register.simple_tag(takes_context=True)
def simulation_panels(context, sims) -> SafeString:
    if sims is None or not sims.panels:
        return mark_safe("")
    html = render_to_string(
        "simulations/panels.html",
        {
            "panels": [{"panel": p, "html": {k: mark_safe(v) for k, v in p.html().items()}} for p in sims.panels],
            "assets": mark_safe(_assets(context)),
        },
        request=context.get("request"),
    )
    return mark_safe(html)


def _see_it(url: str | None, text: str) -> SafeString:
    if url is None:
        return mark_safe("")
    return format_html(
        '<a class="sim-see-it" href="{}">See it<span class="visually-hidden"> in the simulation: {}</span></a>',
        url,
        text,
    )


@register.simple_tag
def feature_preset_link(sims, feature) -> SafeString:
    """"See it" for a key feature a preset demonstrates."""
    if sims is None or feature is None:
        return mark_safe("")
    return _see_it(sims.feature_links.get(feature.text), feature.text)


@register.simple_tag
def use_case_preset_link(sims, use_case) -> SafeString:
    """"See it" for a use case a preset demonstrates."""
    if sims is None or use_case is None:
        return mark_safe("")
    return _see_it(sims.use_case_links.get(use_case.text), use_case.text)


_SECTION = "<h2"


@register.filter
def body_parts(body_html: str) -> tuple[SafeString, SafeString]:
    """A topic body split where the simulation goes: after its first section (the opening
    definition, before the second heading), where the prose turns to the mechanism the
    panel shows; a body with one section splits after its first paragraph. The body is
    sanitised HTML already (topics' Markdown pipeline), and the split is at a tag
    boundary, so both halves stay well formed."""
    body = str(body_html or "")
    first = body.find(_SECTION)
    cut = body.find(_SECTION, first + 1) if first >= 0 else -1
    if cut < 0:
        end = body.find("</p>")
        cut = end + len("</p>") if end >= 0 else len(body)
    return mark_safe(body[:cut]), mark_safe(body[cut:])
