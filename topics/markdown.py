"""Instructors' Markdown to safe HTML: nothing they type can run script or drive htmx.

Two layers. markdown-it's "js-default" preset has raw HTML off, so typed tags
come out as text, and it refuses javascript:/vbscript:/file:/data: links. nh3
then keeps only an explicit allowlist of tags and attributes. The allowlist has
no `on*`, no `style`, no `data-*` and no `hx-*`: htmx acts on `hx-*` and
`data-hx-*` attributes anywhere in the page, so one would let a body fire
requests as the reader.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6",
    "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li",
    "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},  # only "language-…", see _keep_safe_attribute_values
}
# Relative URLs pass through (links between topics); absolute ones need one of these.
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#-]{1,40}")

# js-default: CommonMark plus tables and strikethrough, raw HTML off, no typographer.
_markdown = MarkdownIt("js-default")


def _keep_safe_attribute_values(tag: str, attribute: str, value: str) -> str | None:
    # Fenced code's language class may be used for highlighting; any other class is dropped.
    if tag == "code" and attribute == "class":
        return value if LANGUAGE_CLASS.fullmatch(value) else None
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_keep_safe_attribute_values,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel="noopener noreferrer",
)


def sanitize_html(html: str) -> str:
    """Keep only the allowlisted tags, attributes and URL schemes of an HTML fragment."""
    return _cleaner.clean(html)


def render_markdown(text: str) -> str:
    """Render Markdown to sanitised HTML, safe to mark as safe in a template."""
    if not text:
        return ""
    return sanitize_html(_markdown.render(text))
