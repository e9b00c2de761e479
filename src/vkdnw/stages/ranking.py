"""Rankings of the scored nets by each method: single proxies and their aggregates.

A rank column holds ``scipy.stats.rankdata`` ranks, ascending, so the best net gets rank n
(the convention the log-product aggregation relies on). A net whose score failed (NaN)
ranks below every scored net.

Aggregates combine the ranks of single methods *within the collection being ranked*
(Eq. 15: ``rank_agg = log prod_j rank_j``; TE-NAS: the sum of its two ranks). Restricting
the collection (all 15,625 nets versus the unique 9,445) changes the component ranks and so
the aggregate, which is why :func:`rerank_aggregates` recomputes them per subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from vkdnw.io import read_parquet, write_parquet


def nan_last(x: pd.Series) -> np.ndarray:
    """Scores as the rankings order them: NaN (a failed net) ties with -inf, last."""
    v = x.to_numpy(dtype=float)
    return np.where(np.isnan(v), -np.inf, v)


def lexicographic(*keys: pd.Series) -> np.ndarray:
    """Dense ordinal of the tuple (keys[0], keys[1], ...), higher is better."""
    arrays = [nan_last(k) for k in keys]
    order = np.lexsort(arrays[::-1])  # lexsort's last key is the primary one
    sorted_keys = np.stack([a[order] for a in arrays], axis=1)
    new = np.r_[True, (np.diff(sorted_keys, axis=0) != 0).any(axis=1)]
    dense = np.empty(len(order), dtype=float)
    dense[order] = np.cumsum(new)
    return dense


def _column(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda d: nan_last(d[name])


@dataclass(frozen=True)
class Method:
    """A ranking method: single (type S) from score columns, or an aggregate (type A)."""

    name: str
    type: str  # "S" or "A", as in the paper's Table 1
    groups: tuple[str, ...]  # proxy groups whose scores it needs
    columns: tuple[str, ...] = ()  # single: score columns it reads
    key: Callable[[pd.DataFrame], np.ndarray] | None = None  # single: higher is better
    components: tuple[str, ...] = ()  # aggregate: single methods it combines
    combine: str = "logprod"  # aggregate: "logprod" (Eq. 15) or "sum" (TE-NAS)
    in_table: bool = True  # shown in Tables 1/6 (components only feed aggregates otherwise)


def _single(name: str, group: str, column: str, *, in_table: bool = True) -> Method:
    return Method(name, "S", (group,), (column,), _column(column), in_table=in_table)


# Display order of Tables 1/6: the paper's, then what the paper has no row for.
TABLE_ORDER = ["FLOPs", "params", "GradNorm", "GraSP", "SNIP", "SynFlow", "Jacov", "NASWOT", "ZenNAS",
               "ZiCo", "TE-NAS", "AZ-NAS", "aleph", "VKDNW", "VKDNW_single", "VKDNW_agg"]


def declared_singles() -> list[Method]:
    """The single methods each proxy group declares where it registers (``ranks`` and
    ``component_ranks``: a column, higher is better), read without importing the groups, and
    VKDNW_single, Eq. (12), which orders by two columns: aleph, then VKDNW within it. The
    paper's rows come first, in its order."""
    from vkdnw.proxies.catalog import catalog

    out = [Method("VKDNW_single", "S", ("vkdnw",), ("aleph", "vkdnw"), lambda d: lexicographic(d["aleph"], d["vkdnw"]))]
    for name, g in catalog().items():
        out += [_single(m, name, col) for m, col in g.ranks.items()]
        out += [_single(m, name, col, in_table=False) for m, col in g.component_ranks.items()]
    paper = {m: i for i, m in enumerate(TABLE_ORDER)}
    return sorted(out, key=lambda m: paper.get(m.name, len(paper)))


SINGLE_METHODS: list[Method] = declared_singles()

AGGREGATE_METHODS: list[Method] = [
    Method("TE-NAS", "A", ("tenas",), components=("NTK", "linear_regions"), combine="sum"),
    Method("AZ-NAS", "A", ("aznas", "size"),
           components=("expressivity", "progressivity", "trainability", "FLOPs")),
    Method("VKDNW_agg", "A", ("vkdnw", "jacov", "aznas", "size"),
           components=("VKDNW_single", "Jacov", "expressivity", "trainability", "FLOPs")),
]

METHODS: dict[str, Method] = {m.name: m for m in SINGLE_METHODS + AGGREGATE_METHODS}
if len(METHODS) < len(SINGLE_METHODS) + len(AGGREGATE_METHODS):
    raise ValueError("two ranking methods share a name; each group's `ranks` must be unique")

# Table 3/10: the five components of VKDNW_agg, by the paper's letters.
COMPONENT_LETTERS = {"V": "VKDNW_single", "J": "Jacov", "E": "expressivity", "T": "trainability", "F": "FLOPs"}


def component_subsets() -> list[tuple[str, ...]]:
    """The 31 non-empty subsets of V, J, E, T, F, singles first (the order of Table 10)."""
    letters = list(COMPONENT_LETTERS)
    return [c for k in range(1, len(letters) + 1) for c in combinations(letters, k)]


def combine_ranks(ranks: pd.DataFrame, components: tuple[str, ...], combine: str = "logprod") -> np.ndarray:
    """Aggregate the components' ranks, re-ranked within ``ranks``' rows."""
    within = [rankdata(ranks[c].to_numpy(dtype=float), method="average") for c in components]
    if combine == "logprod":
        agg = np.sum([np.log(r) for r in within], axis=0)
    elif combine == "sum":
        agg = np.sum(within, axis=0)
    else:
        raise ValueError(f"unknown combine {combine!r}")
    return rankdata(agg, method="average")


def rerank_aggregates(ranks: pd.DataFrame) -> pd.DataFrame:
    """``ranks`` with every aggregate column recomputed within its rows (a subset)."""
    out = ranks.copy()
    for m in AGGREGATE_METHODS:
        if m.name in out.columns:
            out[m.name] = combine_ranks(out, m.components, m.combine)
    return out


def rank_methods(scores: pd.DataFrame) -> pd.DataFrame:
    out = scores[["arch_str", "index", "is_unique"]].copy()
    for m in SINGLE_METHODS:
        if all(c in scores.columns for c in m.columns):
            out[m.name] = rankdata(m.key(scores), method="average")
    for m in AGGREGATE_METHODS:
        if all(c in out.columns for c in m.components):
            out[m.name] = combine_ranks(out, m.components, m.combine)
    return out


def write_ranks(scores_path: str | Path, out: str | Path) -> pd.DataFrame:
    scores = read_parquet(scores_path, ("arch_str", "index", "is_unique"), remake=True)
    ranks = rank_methods(scores)
    write_parquet(ranks, out)
    return ranks
