"""A tiny DOM for the server's own fragments: find elements by id or by OOB target, read text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list["Node | str"] = field(default_factory=list)
    parent: "Node | None" = None

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find(self, id_: str) -> "Node | None":
        return next((n for n in self.iter() if n.attrs.get("id") == id_), None)

    def find_all(self, tag: str) -> list["Node"]:
        return [n for n in self.iter() if n.tag == tag]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), parent=self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), parent=self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(html: str) -> Node:
    b = _Builder()
    b.feed(html)
    b.close()
    return b.root


class Message:
    """One server message: top-level elements swapped by id or by hx-swap-oob target."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.root = parse(html)
        self.top = [c for c in self.root.children if isinstance(c, Node)]

    def el(self, id_: str) -> Node | None:
        """A top-level element swapped by its own id (outerHTML)."""
        return next((n for n in self.top if n.attrs.get("id") == id_ and "hx-swap-oob" not in n.attrs), None)

    def oob(self, target: str, style: str | None = None) -> Node | None:
        for n in self.top:
            value = n.attrs.get("hx-swap-oob") or ""
            if value.endswith(f":#{target}") and (style is None or value.startswith(style + ":")):
                return n
        return None

    def raw(self, id_: str) -> str | None:
        """Source of a top-level element with this id (e.g. the stage svg), for exact comparisons."""
        start = self.html.find(f'id="{id_}"')
        if start < 0:
            return None
        start = self.html.rfind("<", 0, start)
        tag = self.html[start + 1 : self.html.find(" ", start)]
        depth, i = 0, start
        while True:
            nxt_open = self.html.find(f"<{tag}", i + 1)
            nxt_close = self.html.find(f"</{tag}>", i + 1)
            if nxt_open != -1 and nxt_open < nxt_close:
                depth += 1
                i = nxt_open
            else:
                if depth == 0:
                    return self.html[start : nxt_close + len(tag) + 3]
                depth -= 1
                i = nxt_close


#: The stage parts' module-level caches that are plain dicts (the rest are lru caches and
#: identity memos, found by their type).
_CACHE_DICTS = ("_GROWN", "_LINES", "_RANGES", "_GIVEN", "_CHARTS", "_COLUMNS")


def forget_drawings() -> None:
    """Empty every cache the stages and their parts keep, as in a fresh process."""
    import functools

    from simulations.render import chart, memo, race_conditions, svg, tcp, topology, ws_protocol

    for mod in (tcp, ws_protocol, chart, topology, svg, race_conditions):
        for name, value in vars(mod).items():
            if isinstance(value, functools._lru_cache_wrapper):
                value.cache_clear()
            elif isinstance(value, dict) and name in _CACHE_DICTS:
                value.clear()
    for each in memo.every():
        each.clear()
    tcp._LAST_ENDPOINTS[:] = [(), None, None]
