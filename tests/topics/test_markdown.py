"""Nothing an instructor types into a body can run script or drive htmx; ordinary Markdown still works."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from topics.markdown import render_markdown, sanitize_html
from topics.models import Topic

SAFE_URL_SCHEMES = {"", "http", "https", "mailto"}  # "" is a relative URL
DANGEROUS_TAGS = {"script", "iframe", "svg", "object", "embed", "style", "form", "input", "div"}


class ParsedFragment(HTMLParser):
    """The tags, attributes and visible text of an HTML fragment, as a browser would read them."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []  # (tag, attributes) in document order
        self.text_parts: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def attributes_of(self, wanted_tag: str) -> list[dict[str, str]]:
        return [attributes for tag, attributes in self.elements if tag == wanted_tag]


def assert_cannot_run_script(fragment: str) -> ParsedFragment:
    parsed = ParsedFragment(fragment)
    assert not DANGEROUS_TAGS & {tag for tag, _ in parsed.elements}, fragment
    for name, value in (item for _, attributes in parsed.elements for item in attributes.items()):
        assert not name.startswith("on"), fragment
        assert not name.startswith(("hx-", "data-")), fragment
        assert name != "style", fragment
        if name in {"href", "src"}:
            # The parser has already decoded entities such as &#106;, as a browser does.
            assert urlsplit(value.strip()).scheme.lower() in SAFE_URL_SCHEMES, fragment
    return parsed


# (what an instructor types, text a reader must still see)
MARKDOWN_XSS_CORPUS = [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
    ("[x](javascript:alert(1))", "x"),
    ("[x](JaVaScRiPt:alert(1))", "x"),
    ('<a href="javascript:alert(1)">click</a>', "click"),
    ('<div hx-get="/admin/">load admin</div>', "load admin"),
    ('<div data-hx-post="/x">post</div>', "post"),
    ("<svg onload=alert(1)>", "<svg onload=alert(1)>"),
    ('<iframe src="https://evil.example/"></iframe>', "<iframe"),
    ("<javascript:alert(1)>", "<javascript:alert(1)>"),
    ("[x](&#106;avascript:alert(1))", "x"),
    ("[x](vbscript:msgbox(1))", "x"),
    ("![pic](data:text/html;base64,PHNjcmlwdD4=)", "pic"),
    ("```html\n<script>alert(1)</script>\n```", "<script>alert(1)</script>"),
    ('Inline <span style="color:red" onclick="x()">text</span> here', "text"),
]

# Raw HTML that reaches the sanitiser directly: the second layer on its own must hold.
HTML_XSS_CORPUS = [
    ("<p>safe</p><script>alert(1)</script>", "safe"),
    ("<p>safe<img src=x onerror=alert(1)></p>", "safe"),
    ('<a href="JaVaScRiPt:alert(1)">safe</a>', "safe"),
    ('<a href="&#106;avascript:alert(1)">safe</a>', "safe"),
    ('<a href=" javascript:alert(1)">safe</a>', "safe"),
    ('<a href="vbscript:msgbox(1)">safe</a>', "safe"),
    (
        '<p hx-get="/admin/" hx-trigger="load" data-hx-post="/x" onclick="x()" style="position:fixed">safe</p>',
        "safe",
    ),
    ('<div hx-get="/admin/">safe</div>', "safe"),
    ("<svg onload=alert(1)><text>gone</text></svg><p>safe</p>", "safe"),
    ('<iframe src="https://evil.example/"></iframe><p>safe</p>', "safe"),
    ('<form action="/admin/"><button>safe</button></form>', "safe"),
    ('<img src="data:image/svg+xml,<svg onload=alert(1)>" alt="safe">', ""),
]


@pytest.mark.parametrize("markdown, visible_text", MARKDOWN_XSS_CORPUS)
def test_markdown_cannot_run_script_and_keeps_the_harmless_text(markdown, visible_text):
    rendered = render_markdown(markdown)
    parsed = assert_cannot_run_script(rendered)
    assert visible_text in parsed.text


@pytest.mark.parametrize("raw_html, visible_text", HTML_XSS_CORPUS)
def test_sanitiser_alone_strips_script_and_htmx(raw_html, visible_text):
    parsed = assert_cannot_run_script(sanitize_html(raw_html))
    assert visible_text in parsed.text


def test_typed_html_is_shown_as_text_not_markup():
    rendered = render_markdown("Use <b>bold</b> sparingly")
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered
    assert "<b>" not in rendered


def test_links_keep_safe_targets_and_get_noopener():
    rendered = render_markdown(
        "[docs](https://example.com/raft \"Raft\"), [dns](/topics/dns/), [plain](http://example.org) "
        "and <mailto:teacher@example.com>"
    )
    links = ParsedFragment(rendered).attributes_of("a")
    assert [link["href"] for link in links] == [
        "https://example.com/raft",
        "/topics/dns/",
        "http://example.org",
        "mailto:teacher@example.com",
    ]
    assert all(link["rel"] == "noopener noreferrer" for link in links)
    assert links[0]["title"] == "Raft"


def test_ordinary_markdown_renders():
    rendered = render_markdown(
        "## How it works\n\n"
        "A **leader** sends _heartbeats_ with `AppendEntries`.\n\n"
        "1. Follower times out\n2. Starts an election\n\n"
        "> Majorities overlap.\n\n"
        "```python\nterm += 1\n```\n\n"
        "| Node | Term |\n| ---- | ---: |\n| n1 | 4 |\n"
    )
    for fragment in [
        "<h2>How it works</h2>",
        "<strong>leader</strong>",
        "<em>heartbeats</em>",
        "<code>AppendEntries</code>",
        "<ol>",
        "<li>Starts an election</li>",
        "<blockquote>",
        '<pre><code class="language-python">term += 1',
        "<table>",
        "<td>n1</td>",
    ]:
        assert fragment in rendered
    assert "style=" not in rendered  # table alignment styles are dropped


def test_code_block_language_cannot_smuggle_other_classes():
    assert 'class="' not in sanitize_html('<code class="language-py htmx-request">x</code>')


def test_empty_body_renders_to_nothing():
    assert render_markdown("") == ""


@pytest.mark.django_db
def test_topic_body_html_renders_the_body_safely():
    topic = Topic.objects.get(slug="dns")
    topic.body = "### Resolution\n\nA resolver asks the **root** first.\n\n<script>alert(1)</script>"
    assert topic.body_html.startswith("<h3>Resolution</h3>")
    assert "<strong>root</strong>" in topic.body_html
    assert "&lt;script&gt;" in topic.body_html
    assert "<script" not in topic.body_html
