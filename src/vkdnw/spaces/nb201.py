"""NAS-Bench-201 search space: arch strings, enumeration, the unique-9,445 rule, aleph.

Pure Python (no torch), so that planning the workflow needs none; the network itself is
:mod:`vkdnw.spaces.nb201_net`.

An arch string is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: node ``i`` (1..3) is the sum of
its incoming edges ``op~j`` from earlier nodes ``j``. Node 0 is the cell input, node 3 its
output.

Enumeration order (fixed, documented): the six edges are taken in string order
``(1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)`` and the archs are the Cartesian product of
:data:`OPS` over those edges, the first edge varying slowest (``itertools.product``).
``index`` in our files is the position in that order. The official NAS-Bench-201 index
differs; it is carried from the benchmark file where one is given.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
CONV_OPS = frozenset({"nor_conv_1x1", "nor_conv_3x3"})
# (target node, source node) in arch-string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
N_ARCHS = len(OPS) ** len(EDGES)  # 15,625

DATASETS: dict[str, dict[str, int]] = {
    "cifar10": {"num_classes": 10, "resolution": 32},
    "cifar100": {"num_classes": 100, "resolution": 32},
    "ImageNet16-120": {"num_classes": 120, "resolution": 16},
}


def dataset_info(dataset: str) -> dict[str, int]:
    """Classes and input resolution of an NB201 dataset; unknown names are a clear error."""
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}") from None


def parse_arch(arch_str: str) -> tuple[str, ...]:
    """Return the six edge ops of ``arch_str`` in :data:`EDGES` order.

    Raises ValueError naming the first thing that is wrong (shape, op name or source node).
    """
    if not isinstance(arch_str, str):
        raise ValueError(f"arch string must be a str, got {type(arch_str).__name__}")
    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise ValueError(f"arch string {arch_str!r} has {len(nodes)} node groups separated by '+', expected 3")
    ops: list[str] = []
    for target, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")) or len(node) < 2:
            raise ValueError(f"node {target} of {arch_str!r} must be enclosed in '|': {node!r}")
        edges = node[1:-1].split("|")
        if len(edges) != target:
            raise ValueError(f"node {target} of {arch_str!r} has {len(edges)} edges, expected {target}")
        for source, edge in enumerate(edges):
            op, sep, src = edge.partition("~")
            if not sep:
                raise ValueError(f"edge {edge!r} of {arch_str!r} lacks '~<source node>'")
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} in {arch_str!r}; expected one of {list(OPS)}")
            if src != str(source):
                raise ValueError(f"edge {edge!r} of node {target} in {arch_str!r} must come from node {source}")
            ops.append(op)
    return tuple(ops)


def arch_from_ops(ops: tuple[str, ...] | list[str]) -> str:
    """Inverse of :func:`parse_arch`."""
    if len(ops) != len(EDGES):
        raise ValueError(f"expected {len(EDGES)} ops, got {len(ops)}")
    groups: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for (target, source), op in zip(EDGES, ops):
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        groups[target].append(f"{op}~{source}")
    return "+".join("|" + "|".join(groups[t]) + "|" for t in (1, 2, 3))


@lru_cache(maxsize=1)
def all_archs() -> tuple[str, ...]:
    """All 15,625 arch strings in the documented enumeration order."""
    return tuple(arch_from_ops(ops) for ops in itertools.product(OPS, repeat=len(EDGES)))


def arch_index(arch_str: str) -> int:
    """Position of ``arch_str`` in :func:`all_archs` (computed, not looked up)."""
    idx = 0
    for op in parse_arch(arch_str):
        idx = idx * len(OPS) + OPS.index(op)
    return idx


def _dead_edges(ops: tuple[str, ...]) -> list[bool]:
    """Per edge of ``EDGES``: a non-``none`` edge that lies on no path from node 0 to node 3.

    An edge j->i lies on such a path iff j is reachable from node 0 and node 3 is reachable
    from i, both through non-``none`` edges.
    """
    live = [(t, s) for (t, s), op in zip(EDGES, ops) if op != "none"]
    reach = {0}
    for t, s in sorted(live):  # sources precede targets, so one pass in target order suffices
        if s in reach:
            reach.add(t)
    coreach = {3}
    for t, s in sorted(live, reverse=True):
        if t in coreach:
            coreach.add(s)
    return [op != "none" and not (s in reach and t in coreach) for (t, s), op in zip(EDGES, ops)]


def is_unique(arch_str: str) -> bool:
    """The unique-9,445 rule: every non-``none`` edge lies on a path from node 0 to node 3."""
    return not any(_dead_edges(parse_arch(arch_str)))


def without_dead_edges(arch_str: str) -> str:
    """The cell with every edge off all input->output paths set to ``none``: the unique net
    that computes the same function (zc_combine's ``remove_zero_branches``)."""
    ops = parse_arch(arch_str)
    return arch_from_ops(["none" if dead else op for dead, op in zip(_dead_edges(ops), ops)])


def n_conv(arch_str: str) -> int:
    return sum(op in CONV_OPS for op in parse_arch(arch_str))


def aleph(arch_str: str) -> int:
    """Trainable parameter tensors of TinyNetwork (C=16, N=5): 21 + 45 per conv op."""
    return 21 + 45 * n_conv(arch_str)
