"""Table 4 under other plausible definitions (``vkdnw table4-variants``): which one gives the
paper's Kendall tau of aleph with each component?

Our Table 4 correlates aleph with each score over the 9,445 unique nets, tau-b, NaN and -inf
last. The paper's VKDNW column has the opposite sign on two datasets of three while
VKDNW_single's KT with accuracy matches, so the difference lies in how VKDNW orders nets of
equal aleph. Each variant here changes one thing; no ground truth is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from vkdnw.io import read_parquet
from vkdnw.paper import DATASETS, TABLE4
from vkdnw.proxies.vkdnw import LAMBDA_COLUMNS
from vkdnw.stages.ranking import lexicographic, nan_last

COMPONENTS = {"VKDNW": "vkdnw", "trainability": "trainability", "expressivity": "expressivity",
              "progressivity": "progressivity"}
# Deciles below this fraction of the largest are zeros up to float64 rounding (the rank bound
# B(C-1) of F at a small batch): such a net's entropy sees fewer than 9 deciles.
ZERO_DECILE = 1e-12


def tau_a(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-a: (concordant - discordant) / all pairs; ties count as neither."""
    tb = kendalltau(x, y).statistic
    n0 = len(x) * (len(x) - 1) / 2

    def tied_pairs(v: np.ndarray) -> float:
        _, counts = np.unique(v, return_counts=True)
        return float((counts * (counts - 1) / 2).sum())

    return float(tb * np.sqrt((n0 - tied_pairs(x)) * (n0 - tied_pairs(y))) / n0)


def _zero_decile(d: pd.DataFrame) -> pd.Series:
    lam = d[list(LAMBDA_COLUMNS)].to_numpy(dtype=float)
    return pd.Series((lam[:, 0] <= ZERO_DECILE * lam[:, -1]), index=d.index)


# variant -> (which nets it keeps, how it correlates aleph with a score column, VKDNW only)
Select = Callable[[pd.DataFrame, str], pd.DataFrame]
Correlate = Callable[[pd.DataFrame, str], float]


def _kt(d: pd.DataFrame, col: str) -> float:
    return float(kendalltau(d["aleph"], nan_last(d[col])).statistic)


def _all(d: pd.DataFrame, col: str) -> pd.DataFrame:
    return d


def _finite(d: pd.DataFrame, col: str) -> pd.DataFrame:
    return d[np.isfinite(d[col].to_numpy(dtype=float))]


VARIANTS: dict[str, tuple[Select, Correlate, bool]] = {
    "tau-b, NaN/-inf last (committed Table 4)": (_all, _kt, False),
    "tau-b, NaN/-inf nets left out": (_finite, _kt, False),
    "tau-a": (_all, lambda d, c: tau_a(d["aleph"].to_numpy(), nan_last(d[c])), False),
    "tau-c": (_all, lambda d, c: float(kendalltau(d["aleph"], nan_last(d[c]), variant="c").statistic), False),
    "Spearman rho": (_all, lambda d, c: float(spearmanr(d["aleph"], nan_last(d[c])).statistic), False),
    "score negated": (_all, lambda d, c: float(kendalltau(d["aleph"], -nan_last(d[c])).statistic), False),
    "VKDNW_single's rank (aleph, then VKDNW)": (
        _all, lambda d, c: float(kendalltau(d["aleph"], lexicographic(d["aleph"], d[c])).statistic), True),
    "nets with a zero lambda decile left out": (lambda d, c: d[~_zero_decile(d)], _kt, True),
    "nets with a zero lambda decile only": (lambda d, c: d[_zero_decile(d)], _kt, True),
}


def variant_rows(dataset: str, score_file: str | Path, *, run: str = "") -> list[dict]:
    """Every variant's tau for every component a run on ``dataset`` has (``run`` labels extra
    runs, such as the batch ablations on a sample)."""
    d = read_parquet(score_file, ("arch_str", "aleph", "is_unique"))
    rows = []
    unique = d[d["is_unique"]]
    for variant, (select, correlate, vkdnw_only) in VARIANTS.items():
        for name, col in COMPONENTS.items():
            if col not in unique.columns or (vkdnw_only and name != "VKDNW"):
                continue
            if vkdnw_only and not set(LAMBDA_COLUMNS) <= set(unique.columns):
                continue
            nets = select(unique, col)
            rows.append({"run": run or "main", "variant": variant, "component": name, "dataset": dataset,
                         "nets": len(nets), "kt": correlate(nets, col),
                         "paper": TABLE4[name][DATASETS.index(dataset)]})
    return rows


def table4_variants(score_files: list[tuple[str, str]],
                    extra: list[tuple[str, str, str]] | None = None) -> pd.DataFrame:
    """The variants on the main runs' ``score_files`` (dataset, file), and on ``extra`` runs
    (label, dataset, file)."""
    rows = [r for dataset, f in score_files for r in variant_rows(dataset, f)]
    for label, dataset, f in extra or []:
        rows += [r for r in variant_rows(dataset, f, run=label) if r["variant"].startswith("tau-b, NaN/-inf last")]
    return pd.DataFrame(rows)
