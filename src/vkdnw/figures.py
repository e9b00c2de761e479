"""Figures 3 and 4: how much each component of AZ-NAS and VKDNW follows the size of the net.

* Figure 3 (size = aleph): for every aleph group (nets with the same number of trainable
  layers), the mean rank of each component, normalised to [0, 1]; the legend gives the
  component's Kendall tau with aleph over all nets. A flat line means "orthogonal to size".
* Figure 4 (size = #params): within every aleph group, the Spearman rho between the
  component and the number of parameters; the legend gives the overall tau with #params.

Both read a run's merged scores (no ground truth) and are drawn per dataset.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import kendalltau, rankdata, spearmanr  # noqa: E402

from vkdnw.io import atomic_write, read_parquet  # noqa: E402

COMPONENTS = {"VKDNW": "vkdnw", "expressivity": "expressivity", "progressivity": "progressivity",
              "trainability": "trainability"}


def _finite(d: pd.DataFrame, col: str) -> pd.DataFrame:
    v = d[col].astype(float)
    return d[np.isfinite(v)]


def size_profile(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per aleph group and component: mean normalised rank and Spearman rho with #params;
    per component: tau with aleph and with #params over all nets)."""
    rows, overall = [], []
    for name, col in COMPONENTS.items():
        if col not in scores.columns:
            continue
        d = _finite(scores, col)
        r = (rankdata(d[col]) - 1) / max(len(d) - 1, 1)
        d = d.assign(norm_rank=r)
        overall.append({"component": name, "kt_aleph": float(kendalltau(d["aleph"], d[col]).statistic),
                        "kt_params": float(kendalltau(d["params"], d[col]).statistic)})
        for a, g in d.groupby("aleph"):
            rho = float(spearmanr(g["params"], g[col]).statistic) if len(g) > 2 and g["params"].nunique() > 1 else np.nan
            rows.append({"component": name, "aleph": int(a), "n": len(g), "mean_rank": float(g["norm_rank"].mean()),
                         "spr_params": rho})
    if not overall:
        raise ValueError("no VKDNW or AZ-NAS component scores to plot")
    return pd.DataFrame(rows), pd.DataFrame(overall)


def _save(fig: plt.Figure, out: Path) -> Path:
    fmt = out.suffix.lstrip(".")
    atomic_write(out, lambda tmp: fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight"))
    return out


def draw_figures(score_files: list[str], out_dir: str | Path) -> list[Path]:
    """figure3_<dataset>.png/.svg and figure4_<dataset>.png/.svg for each run's scores."""
    out_dir = Path(out_dir)
    written = []
    for f in score_files:
        dataset = Path(f).parent.parent.name
        scores = read_parquet(f, ("arch_str", "aleph", "params"))
        groups, overall = size_profile(scores)
        kt = overall.set_index("component")
        for fig_no, ycol, ylabel, ktcol in ((3, "mean_rank", "mean rank (0..1, over all nets) in the group", "kt_aleph"),
                                           (4, "spr_params", "Spearman rho with #params within the group",
                                            "kt_params")):
            fig, ax = plt.subplots(figsize=(6, 4))
            for name, g in groups.groupby("component", sort=False):
                ax.plot(g["aleph"], g[ycol], marker="o", label=f"{name} (KT {kt.loc[name, ktcol]:+.3f})")
            ax.set_xlabel("aleph (trainable layers)")
            ax.set_ylabel(ylabel)
            size = "aleph" if fig_no == 3 else "#params"
            ax.set_title(f"Figure {fig_no}: components vs {size}, {dataset}")
            ax.axhline(0.5 if fig_no == 3 else 0.0, color="grey", lw=0.5)
            ax.legend(fontsize=8)
            written += [_save(fig, out_dir / f"figure{fig_no}_{dataset}.{ext}") for ext in ("png", "svg")]
            plt.close(fig)
    return written
