"""Which documents of a duplicate cluster survive: a keep rule orders them, a cover mode decides how many stay."""

from __future__ import annotations

from collections.abc import Iterable

KEEP_RULES = ("longest", "score", "earliest")
PER_COMPONENT = ("cover", "one")


def keep_order(rule: str, doc_id: str, length: int, score: float, date: str) -> tuple:
    """Sort key: the first document in this order is the one a cluster prefers; ties fall to the lowest id."""
    if rule == "longest":
        return (-length, doc_id)
    if rule == "score":
        return (-score, -length, doc_id)
    if rule == "earliest":
        return (date == "", date, doc_id)
    raise ValueError(f"unknown keep rule {rule!r}; expected one of {', '.join(KEEP_RULES)}")


def choose_kept(members: dict[str, tuple[int, float, str]], edges: Iterable[tuple[str, str]], rule: str,
                per_component: str = "cover") -> dict[str, str]:
    """For each member of one component, the id of the document it is a duplicate of, or its own id if kept.

    `one`: the first document by the keep rule stays, every other member goes. A chain A~B~C (A and C below the
    threshold) then drops C as a duplicate of A although it is not one.
    `cover`: members are visited most-connected first (ties by the keep rule); a member goes only if it has a
    verified edge to a document already kept, else it stays. Every dropped document is then a verified duplicate
    of a kept one; a star or a clique keeps exactly one, a long chain keeps more than one."""
    if per_component not in PER_COMPONENT:
        raise ValueError(f"unknown per_component {per_component!r}; expected one of {', '.join(PER_COMPONENT)}")
    by_rule = {m: keep_order(rule, m, *stat) for m, stat in members.items()}
    if per_component == "one":
        first = min(members, key=by_rule.__getitem__)
        return dict.fromkeys(members, first)
    neighbours: dict[str, set[str]] = {m: set() for m in members}
    for a, b in edges:
        if a in neighbours and b in neighbours:
            neighbours[a].add(b)
            neighbours[b].add(a)
    order = sorted(members, key=lambda m: (-len(neighbours[m]), by_rule[m]))
    rank = {m: i for i, m in enumerate(order)}
    out: dict[str, str] = {}
    for m in order:
        kept_nbrs = [n for n in neighbours[m] if out.get(n) == n]
        out[m] = min(kept_nbrs, key=rank.__getitem__) if kept_nbrs else m
    return out
