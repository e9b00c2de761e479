"""How far one seed's row lies from the mean over seeds: the spread a paper comparison needs.

The paper's rows are means of 5 runs; a one-seed run can only be read against them with the
seed-to-seed spread in hand. For each (method, dataset) this gives KT, SPR and nDCG as mean and
std over the seeds, the reference seed's value and its deviation from the mean, and the
paper's number where it has one (Table 1's, or Table 5's for VKDNW_single at another batch).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vkdnw.io import read_parquet, write_text
from vkdnw.stages.metrics import aggregate
from vkdnw.paper import paper_row

METRICS = ("kt", "spr", "ndcg")


def seed_spread(metric_files: list[str | Path], *, reference_seed: int = 1, subset: str = "unique") -> pd.DataFrame:
    """One row per (method, dataset) of the runs' per-seed metrics (``metrics.parquet``);
    ``subset`` unique is Table 1's nets, all Table 6's."""
    table = "table1" if subset == "unique" else "table6"
    m = pd.concat([read_parquet(f, ("method", "seed")) for f in metric_files], ignore_index=True)
    m = m[(m["subset"] == subset) & (m["table"] == "main")]
    if reference_seed not in set(m["seed"]):
        raise ValueError(f"no metrics of seed {reference_seed} among {len(metric_files)} file(s)")
    if m["seed"].nunique() < 2:
        raise ValueError("a spread needs the metrics of at least two seeds")
    mean = aggregate(m).set_index(["method", "dataset"])
    ref = m[m["seed"] == reference_seed].set_index(["method", "dataset"])
    rows = []
    for (method, dataset), r in mean.iterrows():
        batch = int(r.batch_size) if str(r.batch_size).isdigit() else 64
        paper = paper_row(method, dataset, table, batch)
        row = {"method": method, "dataset": dataset, "batch_size": r.batch_size, "n_nets": int(r.n_nets),
               "n_seeds": int(r.n_seeds)}
        for i, k in enumerate(METRICS):
            one = ref[k].get((method, dataset), float("nan"))
            row.update({k: r[k], f"{k}_std": r[f"{k}_std"], f"{k}_seed{reference_seed}": one,
                        f"{k}_seed{reference_seed}_dev": one - r[k],
                        f"{k}_paper": paper[i] if paper else float("nan")})
        rows.append(row)
    return pd.DataFrame(rows)


def spread_markdown(t: pd.DataFrame, reference_seed: int = 1) -> str:
    """KT and SPR: mean ± std, the reference seed's deviation, and the paper's value."""
    s = f"seed{reference_seed}"
    lines = [f"| method | dataset | KT mean ± std | KT {s} − mean | KT paper | SPR mean ± std | SPR {s} − mean "
             "| SPR paper |", "|---|---|---|---|---|---|---|---|"]
    for r in t.itertuples(index=False):
        cells = []
        for k in ("kt", "spr"):
            paper = getattr(r, f"{k}_paper")
            cells += [f"{getattr(r, k):.3f} ± {getattr(r, f'{k}_std'):.3f}", f"{getattr(r, f'{k}_{s}_dev'):+.3f}",
                      "-" if pd.isna(paper) else f"{paper:.3f}"]
        lines.append(f"| {r.method} | {r.dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_seed_spread(metric_files: list[str], out_csv: str | Path, out_md: str | Path | None = None,
                      **kw) -> pd.DataFrame:
    t = seed_spread(metric_files, **kw)
    write_text(t.to_csv(index=False, float_format="%.6g"), out_csv)
    if out_md:
        write_text(spread_markdown(t, kw.get("reference_seed", 1)), out_md)
    return t
