"""Groups of linked things: the connected components of a list of links (union-find)."""

from __future__ import annotations

from typing import Iterable


def linked_groups(links: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Every group of two or more names joined by ``links``, each sorted; largest first, then by name."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(root(name), []).append(name)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))
