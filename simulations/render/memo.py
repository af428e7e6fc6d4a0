"""What a stage made from an engine's state object, found again by the object's identity.

An engine hands the same state object to every frame while that part of the state is
unchanged (and a new one when it changes), so a renderer can keep what it built from
it without hashing its contents. The object is kept beside the result, so its id cannot
be taken by another object while the entry lives; a memo past its size is emptied (a
run's state objects come and go, and a new run starts it again). `every()` lists them
all, for tests that draw as a fresh process would.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_ALL: weakref.WeakSet[IdentityMemo] = weakref.WeakSet()


class IdentityMemo(Generic[T]):
    __slots__ = ("size", "_items", "__weakref__")

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[Hashable, tuple[Any, T]] = {}
        _ALL.add(self)

    def of(self, obj: Any, make: Callable[[], T], extra: Hashable = None) -> T:
        """What `make()` gave for `obj` (and `extra`, e.g. where it is drawn), made once."""
        key = id(obj) if extra is None else (id(obj), extra)
        hit = self._items.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = make()
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (obj, value)
        return value

    def clear(self) -> None:
        self._items.clear()


def every() -> list[IdentityMemo]:
    return list(_ALL)
