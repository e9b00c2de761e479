"""GRAF: neural graph features of NB201 cells (Kadlecova et al., ICML 2024).

The cell is a DAG on nodes 1..4 (NB201's nodes 0..3 shifted by one, as zc_combine numbers
them) with an op on each of its six edges. Ops are indexed as zc_combine's NB201 config does:
0 skip_connect, 1 none, 2 nor_conv_3x3, 3 nor_conv_1x1, 4 avg_pool_3x3. For each of the 30
non-empty proper subsets S of the five ops (the ``nb201_full`` config):

* ``min_path_len[S banned]``: length of the shortest input->output path avoiding ops in S
  (5 = no path, i.e. ``end + 1``);
* ``max_op_on_path[S]``: how many S-edges the path maximising (#S-edges - #other edges)
  has (paths over all six edges). Among equally good paths zc_combine takes the one
  networkx's Bellman-Ford returns, which is the first of ``PATHS`` (direct edge, via node 2,
  via node 3, via nodes 2 and 3): ``ties="first"``, the default, checked against networkx on
  all 15,625 cells x 30 subsets. ``ties="most"`` takes the one with most S-edges instead;
* ``in_degree[S]`` / ``out_degree[S]``: S-edges leaving the input / entering the output,
  and ``avg_in[S]`` / ``avg_out[S]``: S-edges per node (zc_combine's naming);

plus ``op_count`` of each op: 5 + 30 x 6 = 185 features, a pure function of the arch string.

Those are the four families of zc_combine's ``nb201_full`` config (``FAMILIES``). The paper's
GRAF rows use three of them (``PAPER_FAMILIES``): the authors' notebook (ondratybl/VKDNW,
``NB201/tss_analyze.ipynb``) reads zc_combine's precomputed feature table and keeps the columns
whose names contain ``op_`` or ``node_``, which are op_count, max_op_on_path and node_degree but
not min_path_len. With that set our GRAF row is within 0.004 KT of the paper's on all three
datasets (results/reference/b8/model_variants_<dataset>.csv).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import pandas as pd

from vkdnw.spaces.nb201 import EDGES, parse_arch

OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# Feature families, as zc_combine's nb201_full config names its functions.
FAMILIES = ("op_count", "min_path_len", "max_op_on_path", "node_degree")
PAPER_FAMILIES = ("op_count", "max_op_on_path", "node_degree")
_DEGREE_KEYS = ("in_degree", "out_degree", "avg_in", "avg_out")
SUBSETS = [s for k in range(1, 5) for s in combinations(range(5), k)]  # 30 proper subsets
# Every input->output path of the cell DAG, as edge lists on nodes 1..4.
PATHS = (((1, 4),), ((1, 2), (2, 4)), ((1, 3), (3, 4)), ((1, 2), (2, 3), (3, 4)))


def cell_edges(arch_str: str) -> dict[tuple[int, int], int]:
    """{(from, to): op index} on nodes 1..4."""
    ops = parse_arch(arch_str)
    return {(src + 1, dst + 1): OPS.index(op) for (dst, src), op in zip(EDGES, ops)}


def _name(subset: tuple[int, ...]) -> str:
    return "+".join(OPS[i] for i in subset)


def min_path_len(edges: dict[tuple[int, int], int], banned: tuple[int, ...]) -> int:
    lengths = [len(p) for p in PATHS if all(edges[e] not in banned for e in p)]
    return min(lengths) if lengths else 5


def max_op_on_path(edges: dict[tuple[int, int], int], allowed: tuple[int, ...], ties: str = "first") -> int:
    def score(p):
        n = sum(edges[e] in allowed for e in p)
        # (#allowed - #other); on a tie max() keeps the first path, or the one with most allowed
        return (2 * n - len(p), n) if ties == "most" else (2 * n - len(p),)

    return sum(edges[e] in allowed for e in max(PATHS, key=score))


def node_degrees(edges: dict[tuple[int, int], int], allowed: tuple[int, ...]) -> dict[str, float]:
    good = [e for e, op in edges.items() if op in allowed]
    return {
        "in_degree": float(sum(e[0] == 1 for e in good)),
        "out_degree": float(sum(e[1] == 4 for e in good)),
        "avg_in": len(good) / 4.0,
        "avg_out": len(good) / 4.0,
    }


@lru_cache(maxsize=None)
def graf_features(arch_str: str, ties: str = "first") -> dict[str, float]:
    edges = cell_edges(arch_str)
    feats: dict[str, float] = {f"graf_op_count_{op}": float(sum(v == i for v in edges.values()))
                               for i, op in enumerate(OPS)}
    for s in SUBSETS:
        n = _name(s)
        feats[f"graf_min_path_len_no_{n}"] = float(min_path_len(edges, s))
        feats[f"graf_max_op_on_path_{n}"] = float(max_op_on_path(edges, s, ties))
        feats.update({f"graf_{k}_{n}": v for k, v in node_degrees(edges, s).items()})
    return feats


def family(column: str) -> str:
    """The ``FAMILIES`` member a feature column belongs to."""
    if column.startswith("graf_op_count_"):
        return "op_count"
    if column.startswith("graf_min_path_len_"):
        return "min_path_len"
    if column.startswith("graf_max_op_on_path_"):
        return "max_op_on_path"
    if any(column.startswith(f"graf_{k}_") for k in _DEGREE_KEYS):
        return "node_degree"
    raise ValueError(f"not a GRAF feature column: {column!r}")


def feature_frame(archs: list[str], ties: str = "first",
                  families: tuple[str, ...] | list[str] = FAMILIES) -> pd.DataFrame:
    """GRAF features of ``archs`` (rows, indexed by arch string), the ``families`` columns only."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown GRAF feature families {sorted(unknown)} (known: {', '.join(FAMILIES)})")
    frame = pd.DataFrame([graf_features(a, ties) for a in archs], index=pd.Index(archs, name="arch_str"))
    return frame[[c for c in frame.columns if family(c) in families]]
