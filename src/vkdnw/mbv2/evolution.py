"""Evolutionary search in the MobileNetV2 space with the log-rank aggregate (Table 2).

The loop follows ``ImageNet_MBV2/evolution_search_vkdnw.py`` (itself from ZenNAS/AZ-NAS):

* the first 11 candidates mutate one block of the initial net; until the population is full,
  two blocks of a uniformly drawn scored candidate; then two blocks of a candidate drawn from
  the top ``population - 1`` by the aggregate;
* a mutant over the FLOPs budget (reference counting, 224 px) or the layer limit is redrawn
  and does not count as an iteration;
* the aggregate of candidate f is ``sum_j log(rank_j(f) / n)`` over all n scored candidates,
  with ``scipy.stats.rankdata`` ranks of complexity, expressivity, progressivity, VKDNW and
  trainability (the best gets rank n);
* the shortlist is the final top ``population``; the best structure is the argmax.

Differences, on purpose: each iteration draws from its own random stream (seeded by the run
seed and the iteration), and a candidate's score depends only on (seed, structure). A killed
search therefore resumes from its log to exactly the candidates an uninterrupted one scores,
and a structure proposed twice is scored once.

Durability: every scored candidate is written before the next is proposed: rows go to
``current.parquet`` (rewritten atomically, at most ``chunk_rows`` rows), which is renamed to
``part-NNNNN.parquet`` when full, so a kill loses at most the candidate in flight.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from vkdnw.io import read_parquet, write_parquet, write_text
from vkdnw.mbv2.score import COMPONENTS, ScoreSettings, score_structure
from vkdnw.rng import derive_seed
from vkdnw.stages.scoring import scoring_device
from vkdnw.spaces import mbv2

N_FROM_INIT = 10  # the reference mutates the initial net while it has <= 10 candidates


@dataclass(frozen=True)
class SearchSettings:
    iterations: int = 100_000
    population: int = 1024
    budget_flops: float = 450e6
    max_layers: int = 14
    seed: int = 123
    init_structure: str = mbv2.INIT_STRUCTURE
    components: tuple[str, ...] = COMPONENTS
    score: ScoreSettings = field(default_factory=ScoreSettings)
    max_attempts: int = 10_000  # redraws of one iteration before giving up (budget too tight)

    def key(self) -> str:
        """Hash of everything that changes the candidates (not the iteration count, so a
        longer search continues a shorter one's log)."""
        d = asdict(self)
        d.pop("iterations")
        d["score"].pop("device")
        d["score"].pop("jvp_chunk")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def settings_from_dict(d: dict) -> SearchSettings:
    """SearchSettings from the config's ``mbv2.search`` block (unknown keys are an error)."""
    d = dict(d)
    score = ScoreSettings(**d.pop("score", {}))
    if "components" in d:
        d["components"] = tuple(d["components"])
        bad = set(d["components"]) - set(COMPONENTS)
        if bad:
            raise ValueError(f"unknown search components {sorted(bad)}; known: {list(COMPONENTS)}")
    try:
        return SearchSettings(score=score, **d)
    except TypeError as exc:
        raise ValueError(f"bad mbv2 search settings: {exc}") from None


def _failed_lowest(values: np.ndarray) -> np.ndarray:
    """A NaN score ranks with the failed ones (-inf), lowest, instead of spoiling the column."""
    return np.where(np.isnan(values), -np.inf, values)


def _log_rank_sum(ranks: np.ndarray) -> np.ndarray:
    n = ranks.shape[0]
    return np.sum([np.log(ranks[:, j] / n) for j in range(ranks.shape[1])], axis=0)


def aggregate(values: np.ndarray) -> np.ndarray:
    """sum_j log(rank_j / n) over the columns of ``values`` (n x m); ranks ascending, average
    ties, -inf or NaN (a failed score) ranks lowest."""
    if values.shape[0] == 0:
        return np.zeros(0)
    return _log_rank_sum(rankdata(_failed_lowest(values), axis=0))


class RunningAggregate:
    """:func:`aggregate` of a growing candidate set, updated per candidate in O(n m) instead of
    re-sorting all n candidates (O(n m log n)) at every iteration of the search.

    A new value v moves each earlier candidate's average rank by +1 where it is above v and by
    +0.5 where it ties; v's own is (#below) + (#equal + 2) / 2. The ranks are half-integers,
    exact in float64, so :meth:`aggregate` equals :func:`aggregate` bit for bit."""

    def __init__(self, capacity: int, n_columns: int, values: np.ndarray | None = None):
        self.values = np.empty((capacity, n_columns))
        self.ranks = np.empty((capacity, n_columns))
        self.n = 0
        if values is not None and len(values):  # a resumed search: rank its log once
            self.n = len(values)
            self.values[:self.n] = _failed_lowest(values)
            self.ranks[:self.n] = rankdata(self.values[:self.n], axis=0)

    def add(self, row: np.ndarray) -> None:
        v = _failed_lowest(np.asarray(row, dtype=float))
        old = self.values[:self.n]
        above, tied = old > v, old == v
        self.ranks[:self.n] += above + 0.5 * tied
        self.ranks[self.n] = (old < v).sum(axis=0) + (tied.sum(axis=0) + 2) / 2
        self.values[self.n] = v
        self.n += 1

    def aggregate(self) -> np.ndarray:
        return _log_rank_sum(self.ranks[:self.n]) if self.n else np.zeros(0)


def top_stable(agg: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(agg, kind="stable")[-k:]`` (the k best, ties broken towards later
    candidates, in ascending order) by a partition: O(n) instead of a full sort per iteration."""
    n = len(agg)
    if k >= n:
        return np.argsort(agg, kind="stable")
    cut = np.partition(agg, n - k)[n - k]
    above = np.flatnonzero(agg > cut)
    ties = np.flatnonzero(agg == cut)[-(k - len(above)):]
    chosen = np.concatenate([above, ties])
    return chosen[np.lexsort((chosen, agg[chosen]))]


class CandidateLog:
    """Append-only Parquet log of scored candidates in ``work_dir``."""

    def __init__(self, work_dir: Path, chunk_rows: int = 256):
        self.dir = Path(work_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.chunk_rows = chunk_rows
        self.current: list[dict] = []
        self.n_parts = len(list(self.dir.glob("part-*.parquet")))

    def load(self) -> pd.DataFrame:
        frames = [read_parquet(p) for p in sorted(self.dir.glob("part-*.parquet"))]
        cur = self.dir / "current.parquet"
        if cur.exists():
            df = read_parquet(cur)
            self.current = df.to_dict("records")
            frames.append(df)
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        # A kill between renaming a full chunk and clearing current.parquet repeats rows.
        return df.drop_duplicates("iteration").sort_values("iteration", ignore_index=True)

    def append(self, row: dict) -> None:
        self.current.append(row)
        if len(self.current) >= self.chunk_rows:
            part = self.dir / f"part-{self.n_parts:05d}.parquet"
            write_parquet(pd.DataFrame(self.current), part)
            self.n_parts += 1
            self.current = []
            (self.dir / "current.parquet").unlink(missing_ok=True)
        else:
            write_parquet(pd.DataFrame(self.current), self.dir / "current.parquet")


def _feasible(struct: mbv2.Structure, s: SearchSettings) -> bool:
    return (mbv2.num_layers(struct) <= s.max_layers
            and mbv2.flops_reference(struct, s.score.budget_resolution, 1000) <= s.budget_flops)


def propose(it: int, structures: list[str], agg: np.ndarray, s: SearchSettings) -> tuple[str, str, int]:
    """The candidate of iteration ``it``: (structure, parent, redraws)."""
    rng = random.Random(derive_seed(s.seed, mbv2.__name__, "", f"iteration-{it}"))
    init = mbv2.parse(s.init_structure)
    top = None
    for attempt in range(s.max_attempts):
        n = len(structures)
        if n <= N_FROM_INIT:
            parent, n_rep = s.init_structure, 1
        elif n < s.population - 1:
            parent, n_rep = structures[rng.randrange(n)], 2
        else:
            if top is None:
                top = top_stable(agg, s.population - 1)
            parent, n_rep = structures[int(top[rng.randrange(len(top))])], 2
        base = init if parent == s.init_structure else mbv2.parse(parent)
        child = mbv2.mutate(base, rng, n_rep)
        if _feasible(child, s):
            return mbv2.to_str(child), parent, attempt
    raise RuntimeError(f"iteration {it}: no feasible mutant in {s.max_attempts} draws; "
                       f"budget_flops={s.budget_flops:g} / max_layers={s.max_layers} too tight?")


def run_search(s: SearchSettings, work_dir: Path, *, chunk_rows: int = 256,
               progress: Callable[[int, dict], None] | None = None) -> pd.DataFrame:
    """Run (or resume) the search until ``s.iterations`` candidates are logged; returns the
    log with the final aggregate. ``work_dir`` should be keyed by ``s.key()``."""
    # IEEE float32 on CUDA, as the NB201 scoring: TF32 would move the float32 AZ-NAS parts by
    # ~1e-3, and a search resumed on another device (the key leaves the device out) would
    # then mix precisions in one log.
    scoring_device(s.score.device)
    log = CandidateLog(work_dir, chunk_rows)
    settings_file = Path(work_dir) / "settings.json"
    if settings_file.exists():
        old = json.loads(settings_file.read_text())
        if old.get("key") != s.key():
            raise ValueError(f"{work_dir} holds a search with other settings; use the directory of "
                             f"key {s.key()} or remove it")
    else:
        write_text(json.dumps({"key": s.key(), "settings": asdict(s)}, indent=1, default=str), settings_file)
    rows = log.load().to_dict("records")
    structures = [r["structure"] for r in rows]
    # Preallocated: growing an array per iteration would copy O(n^2) over 100k iterations.
    ranked = RunningAggregate(max(s.iterations, len(rows)), len(s.components),
                              np.array([[float(r[c]) for c in s.components] for r in rows]))
    cache: dict[str, dict] = {}
    for r in rows:
        cache.setdefault(r["structure"], r)
    t_last = time.perf_counter()
    for it in range(len(structures), s.iterations):
        n = len(structures)
        agg = ranked.aggregate() if n >= s.population - 1 else np.zeros(n)
        child, parent, redraws = propose(it, structures, agg, s)
        if child in cache:
            row = dict(cache[child])
            row["seconds"] = 0.0  # scored before: the score depends on (seed, structure) only
        else:
            row = score_structure(child, s.seed, s.score)
        row.update(iteration=it, parent=parent, redraws=redraws)
        now = time.perf_counter()
        row["wall_seconds"] = now - t_last  # proposal + scoring, summed for the search cost
        t_last = now
        log.append(row)
        cache.setdefault(child, row)
        rows.append(row)
        structures.append(child)
        ranked.add(np.array([float(row[c]) for c in s.components]))
        if progress is not None:
            progress(it, row)
    out = pd.DataFrame(rows)
    out["aggregate"] = aggregate(out[list(s.components)].to_numpy(float))
    return out


def shortlist(log: pd.DataFrame, population: int) -> pd.DataFrame:
    """The final top ``population`` by the aggregate, best first (ties: earlier first, as the
    reference's ``list.index(max)`` picks)."""
    order = log.sort_values(["aggregate", "iteration"], ascending=[False, True], kind="stable")
    return order.head(population).reset_index(drop=True)


def summarize(log: pd.DataFrame, short: pd.DataFrame, s: SearchSettings, device: str) -> dict:
    best = short.iloc[0]
    wall = float(log["wall_seconds"].sum())
    return {
        "iterations": int(len(log)),
        "unique_structures": int(log["structure"].nunique()),
        "failed_scores": int((log["error"].astype(str) != "").sum()),
        "wall_seconds": wall,
        "scoring_seconds": float(log["seconds"].sum()),
        "candidates_per_second": len(log) / wall if wall > 0 else math.nan,
        "device": device,
        "gpu_days": wall / 86400.0 if device.startswith("cuda") else None,
        "best_structure": str(best["structure"]),
        "best_aggregate": float(best["aggregate"]),
        "best_flops": float(mbv2.flops_reference(mbv2.parse(best["structure"]), 224, 1000)),
        "best_params": float(best["params"]),
        "best_layers": int(best["layers"]),
        "settings": asdict(s),
        "key": s.key(),
    }


def write_outputs(log: pd.DataFrame, s: SearchSettings, out_dir: Path, device: str) -> dict:
    out_dir = Path(out_dir)
    short = shortlist(log, s.population)
    summary = summarize(log, short, s, device)
    write_parquet(log, out_dir / "candidates.parquet")
    write_parquet(short, out_dir / "shortlist.parquet")
    write_text(summary["best_structure"] + "\n", out_dir / "best_structure.txt")
    write_text(json.dumps(summary, indent=1, default=str) + "\n", out_dir / "summary.json")
    return summary


def work_dir_for(s: SearchSettings, root: Path) -> Path:
    return Path(root) / f"work-{s.key()}"

