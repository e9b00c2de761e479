"""The VKDNW ablations of the paper: Table 5 (batch size, random vs real input), Table 8 (FIM
dimension, i.e. the number of parameter tensors) and Table 9 (where in each tensor the
weight is taken, and k weights per tensor over 32 tensors).

Every row of those tables is one *setting* of VKDNW. Rows of different tables that are the
same computation (batch 64 random input = FIM 128 = position 0 with the paper's defaults)
share one :class:`Setting` and so one scoring run: the workflow scores each distinct setting
once, under ``ablations/{setting.id}/``, with the ordinary scoring rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vkdnw.io import read_parquet, write_text
from vkdnw.paper import TABLE5, TABLE8, TABLE9
from vkdnw.plan import data_folder, group_settings

TABLES = ("table5", "table8", "table9")
METRIC_COLUMNS = ["kt", "spr", "ndcg", "top1"]


@dataclass(frozen=True)
class Setting:
    """One way of computing VKDNW: what the Fisher matrix is built from."""

    batch_size: int
    n_tensors: int
    position: float | str  # relative index in [0, 1], or "random"
    per_tensor: int
    input: str  # "random" (noise) or "real" (training images)

    @property
    def id(self) -> str:
        """A path-safe name, e.g. ``b64-t128-p0.2-k1-random``."""
        pos = self.position if isinstance(self.position, str) else f"{float(self.position):g}"
        return f"b{self.batch_size}-t{self.n_tensors}-p{pos}-k{self.per_tensor}-{self.input}"

    @property
    def proxy(self) -> str:
        """The proxy group that computes it: VKDNW itself, or its real-image twin."""
        return "vkdnw" if self.input == "random" else "vkdnw_real"

    def settings(self, fim: str, data: str | None) -> dict[str, Any]:
        """The scoring job's settings (``--settings``) for this setting."""
        s: dict[str, Any] = {"batch_size": self.batch_size, "n_tensors": self.n_tensors,
                             "position": self.position, "per_tensor": self.per_tensor, "fim": fim}
        if self.input == "real":
            s["data"] = data
        return {self.proxy: s}


@dataclass(frozen=True)
class Row:
    """A row of an ablation table: its label columns and the setting it evaluates."""

    table: str
    labels: tuple[tuple[str, Any], ...]
    setting: Setting


def ablation_rows(cfg: dict[str, Any]) -> list[Row]:
    """Every row of Tables 5, 8 and 9 for this config, in the paper's order.

    The fixed parts of each table are the main run's VKDNW settings (``settings.vkdnw`` over
    the registered defaults: batch 64, 128 tensors, position 0, one weight per tensor in the
    paper).
    """
    a, v = cfg["ablations"], group_settings(cfg, "vkdnw")
    base = dict(batch_size=v["batch_size"], n_tensors=v["n_tensors"], position=v["position"],
                per_tensor=v["per_tensor"], input="random")
    # Without a dataset path a real-input row would score the very noise its random twin
    # scores (same stream, tested): it reads that run instead, and its row says so.
    has_data = data_folder(cfg, a["dataset"]) is not None
    rows = [Row("table5", (("batch_size", b), ("input", i)),
                Setting(**{**base, "batch_size": b, "input": i if has_data else "random"}))
            for b in a["batch_sizes"] for i in a["inputs"]]
    rows += [Row("table8", (("fim_dimension", n),), Setting(**{**base, "n_tensors": n}))
             for n in a["fim_sizes"]]
    rows += [Row("table9", (("sampling", "one weight per tensor"), ("policy", str(p))),
                 Setting(**{**base, "position": p, "per_tensor": 1})) for p in a["positions"]]
    # Multiple weights per tensor: k weights of each of the first 32 tensors; "random" draws
    # them uniformly, a number spreads them evenly (the paper says "sample uniformly").
    rows += [Row("table9", (("sampling", "multiple weights per tensor"), ("policy", str(k))),
                 Setting(**{**base, "n_tensors": a["multi_n_tensors"], "position": a["multi_position"],
                            "per_tensor": k})) for k in a["weights_per_tensor"]]
    return rows


def settings_by_id(cfg: dict[str, Any]) -> dict[str, Setting]:
    """The distinct settings the ablation tables need, by id (each is one scoring run)."""
    out: dict[str, Setting] = {}
    for row in ablation_rows(cfg):
        out.setdefault(row.setting.id, row.setting)
    return out


def table_settings(cfg: dict[str, Any], table: str) -> list[str]:
    """Ids of the settings one table reads, without repeats."""
    return list(dict.fromkeys(r.setting.id for r in ablation_rows(cfg) if r.table == table))


# ----------------------------------------------------------------------------- tables


def _paper(table: str, labels: dict[str, Any], dataset: str) -> tuple[float, float, float] | None:
    """The paper's (KT, SPR, nDCG) for a row: its Tables 5, 8 and 9 are on ImageNet16-120 only."""
    if dataset != "ImageNet16-120":
        return None
    if table == "table5":
        return TABLE5.get((int(labels["batch_size"]), labels["input"]))
    if table == "table8":
        return TABLE8.get(int(labels["fim_dimension"]))
    return TABLE9.get((labels["sampling"], str(labels["policy"])))


def build_table(cfg: dict[str, Any], table: str, runs: dict[str, list[str]],
                method: str = "VKDNW_single") -> pd.DataFrame:
    """One ablation table: per row, ``method``'s metrics on the unique nets (mean and std over
    the seeds), the input its scores really used, and the paper's numbers beside them.

    ``runs`` maps a setting id to its runs' metrics.parquet paths.
    """
    from vkdnw.stages.metrics import paper_comparable  # scipy: not for the DAG, which imports this module

    out = []
    for row in (r for r in ablation_rows(cfg) if r.table == table):
        labels = dict(row.labels)
        metrics = pd.concat([read_parquet(m, ("method",), remake=True) for m in runs[row.setting.id]])
        m = metrics[(metrics["method"] == method) & (metrics["subset"] == "unique")
                    & (metrics["table"] == "main")]
        if m.empty:
            raise ValueError(f"{table}: no {method} metrics for setting {row.setting.id}")
        rec: dict[str, Any] = {**labels, "setting": row.setting.id,
                               "input_used": "+".join(sorted(set(m["input"])))}
        for c in METRIC_COLUMNS:
            rec[c] = float(m[c].mean())
            rec[f"{c}_std"] = float(m[c].std(ddof=1)) if len(m) > 1 else float("nan")
        rec.update(n_seeds=int(m["seed"].nunique()), n_nets=int(m["n_nets"].iloc[0]))
        paper = _paper(table, labels, cfg["ablations"]["dataset"])
        rec.update(zip(("paper_kt", "paper_spr", "paper_ndcg"), paper or (float("nan"),) * 3))
        rec["ndcg_comparable"] = paper_comparable(method, rec["n_nets"], table)
        out.append(rec)
    return pd.DataFrame(out)


def to_markdown(df: pd.DataFrame, title: str) -> str:
    labels = [c for c in df.columns if c not in {"setting", "input_used", "n_seeds", "n_nets", "ndcg_comparable"}
              and not c.startswith("paper_") and c.replace("_std", "") not in METRIC_COLUMNS]
    head = labels + ["input used", "KT", "SPR", "nDCG", "top-1", "paper KT", "paper SPR", "paper nDCG", "nets", "setting"]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.iterrows():
        cells = [str(r[c]) for c in labels] + [r["input_used"]]
        cells += [f"{r[c]:.3f}" for c in ("kt", "spr", "ndcg")] + [f"{r['top1']:.2f}"]
        cells += ["-" if pd.isna(r[c]) else f"{r[c]:.3f}" for c in ("paper_kt", "paper_spr", "paper_ndcg")]
        if not r["ndcg_comparable"] and not pd.isna(r["paper_ndcg"]):
            cells[-1] = "- (sample)"  # nDCG@1000 over a sample is not the paper's quantity
        cells += [f"{r['n_nets']} x {r['n_seeds']} seed(s)", f"`{r['setting']}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TITLES = {
    "table5": "Table 5: VKDNW_single by batch size, random vs real input",
    "table8": "Table 8: VKDNW_single by FIM dimension (number of parameter tensors)",
    "table9": "Table 9: VKDNW_single by parameter sampling policy",
}


def write_table(cfg: dict[str, Any], table: str, runs: dict[str, list[str]],
                out_csv: str | Path, out_md: str | Path) -> pd.DataFrame:
    df = build_table(cfg, table, runs)
    write_text(df.to_csv(index=False), out_csv)
    write_text(to_markdown(df, TITLES[table]), out_md)
    return df
