"""`{% icon name %}`: inline a Material Symbols SVG from static/icons/<name>.svg.

Inlined (not <img>) so the icon takes the text colour (`fill="currentColor"`) and
works in dark mode. Only names that exist as files are drawn; anything else
(unknown name, a path, an empty string) renders nothing. Results are cached per
process; the icon set is small and fixed at deploy time.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django import template
from django.contrib.staticfiles import finders
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_NAME = re.compile(r"^[a-z0-9_]{1,60}$")
_CLASS = re.compile(r"^[A-Za-z0-9_\- ]{0,100}$")
_SVG_OPEN = re.compile(r"<svg\b([^>]*)>", re.IGNORECASE)
_SIZE_ATTR = re.compile(r'\s(?:width|height|class|aria-hidden|focusable|fill)="[^"]*"', re.IGNORECASE)


@lru_cache(maxsize=256)
def _icon_markup(name: str, css_class: str) -> str:
    if not _NAME.match(name) or not _CLASS.match(css_class):
        return ""
    path = finders.find(f"icons/{name}.svg")
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as fh:
            svg = fh.read().strip()
    except OSError:
        return ""
    match = _SVG_OPEN.search(svg)
    if not match:
        return ""
    attrs = _SIZE_ATTR.sub("", match.group(1))
    classes = " ".join(["icon", *css_class.split()])
    opening = (
        f'<svg{attrs} class="{escape(classes)}" width="24" height="24" fill="currentColor" '
        f'aria-hidden="true" focusable="false">'
    )
    return svg[: match.start()] + opening + svg[match.end() :]


@register.simple_tag
def icon(name: object, css_class: str = "") -> SafeString:
    """Inline SVG for a Material Symbols icon, or "" when there is no such file."""
    if not isinstance(name, str):
        return mark_safe("")
    return mark_safe(_icon_markup(name.strip(), css_class.strip()))
