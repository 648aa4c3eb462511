"""The one registry type: named things of one kind, in registration order.

Every extension point is a :class:`Registry` (checks, value checks, relations, backends,
planners): ``REGISTRY.add(name, item)`` or a decorator built on it adds an entry, lookups
read like a mapping, and an unknown name raises a ``KeyError`` that lists the known ones.
Registering a second, different thing under a taken name is a bug and fails at import;
registering the same function again (a module imported twice, as pytester does) replaces it.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

T = TypeVar("T")


def _identity(item: object) -> str:
    target = getattr(item, "runner", item)  # a declaration: the function it declares
    return f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}"


class Registry(Generic[T]):
    """``name -> item`` for one kind of extension, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        previous = self._items.get(name)
        assert previous is None or _identity(previous) == _identity(item), \
            f"two different {self.kind}s named {name!r}"
        self._items[name] = item
        return item

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"no {self.kind} named {name!r}; known: {', '.join(self._items)}") from None

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def values(self) -> list[T]:
        return list(self._items.values())
