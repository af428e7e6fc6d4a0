"""Template helpers for the public pages: site navigation and search highlighting."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django import template
from django.utils.html import escape, strip_tags
from django.utils.safestring import SafeString, mark_safe

from topics.models import Category, RelatedItem, Topic

register = template.Library()


@register.simple_tag
def nav_categories() -> list[Category]:
    """The categories for the site navigation: one query per page."""
    return list(Category.objects.only("name", "slug", "icon", "order"))


def _pattern(query: str) -> re.Pattern[str] | None:
    q = query.strip()
    if not q:
        return None
    return re.compile(re.escape(q), re.IGNORECASE)


def highlight_html(text: str, query: str) -> SafeString:
    """Escape `text` and wrap every case-insensitive occurrence of `query` in <mark>.

    The text is split on the matches first and each piece is escaped on its own, so
    the markup can only come from us: a query such as "amp" or "<script>" can neither
    break an entity nor inject a tag.
    """
    text = str(text)
    pattern = _pattern(query)
    if pattern is None:
        return escape(text)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))


@register.filter(name="highlight")
def highlight(text: object, query: object) -> SafeString:
    return highlight_html("" if text is None else str(text), "" if query is None else str(query))


@dataclass(frozen=True)
class MatchReason:
    label: str
    html: SafeString


@register.simple_tag
def match_reasons(topic: Topic, query: str) -> list[MatchReason]:
    """Why `topic` matched `query`, besides its title and summary (shown on the hit itself).

    Uses the prefetched key features, use cases and related items, so no extra queries.
    """
    pattern = _pattern(query or "")
    if pattern is None:
        return []
    reasons: list[MatchReason] = []
    for feature in topic.key_features.all():
        if pattern.search(feature.text):
            reasons.append(MatchReason("Key feature", highlight_html(feature.text, query)))
        elif feature.detail and pattern.search(feature.detail):
            reasons.append(MatchReason(f"Key feature “{feature.text}”", excerpt_html(feature.detail, query)))
    for use_case in topic.use_cases.all():
        if pattern.search(use_case.text):
            reasons.append(MatchReason("Use case", highlight_html(use_case.text, query)))
    for item in topic.related_items.all():
        if pattern.search(item.name):
            label = "Related technology" if item.kind == RelatedItem.Kind.TECHNOLOGY else "Related concept"
            reasons.append(MatchReason(label, highlight_html(item.name, query)))
    if topic.body:
        text = body_text(topic)
        if pattern.search(text):
            reasons.append(MatchReason("How it works", excerpt_html(text, query)))
    return reasons


def body_text(topic: Topic) -> str:
    """The body as a reader sees it: rendered, tags stripped, entities decoded, one line."""
    # A heading runs into the paragraph after it once tags are gone: end it like a sentence.
    rendered = re.sub(r"(?<![.:?!])</h[1-6]>", ".", topic.body_html)
    return " ".join(html.unescape(strip_tags(rendered)).split())


def excerpt_html(text: str, query: str, width: int = 80) -> SafeString:
    """About `width` characters either side of the first match, cut at spaces, highlighted."""
    pattern = _pattern(query)
    match = pattern.search(text) if pattern else None
    if match is None:
        return highlight_html(text[: 2 * width], query)
    start = max(0, match.start() - width)
    end = min(len(text), match.end() + width)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < match.start() else start
    if end < len(text):
        space = text.rfind(" ", match.end(), end)
        end = space if space > match.end() else end
    snippet = highlight_html(text[start:end], query)
    return mark_safe(("…" if start > 0 else "") + snippet + ("…" if end < len(text) else ""))


@register.filter
def external_url(url: object) -> str:
    """The URL when it is a plain http(s) link, otherwise "" (never javascript: and friends)."""
    value = str(url or "").strip()
    if value.lower().startswith(("https://", "http://")):
        return value
    return ""
