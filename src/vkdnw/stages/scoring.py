"""Scoring blocks: run one proxy group over a slice of the arch list, write Parquet.

The arch list of a run is a pure function of the config (subset, sample size, sample seed),
and block ``k`` is its ``k``-th slice of ``block_size`` archs. Blocks are the results layout
and the unit a scoring job writes; a cluster "shard" is a bundle of blocks that one
allocation scores (Snakemake job groups), so the shard size is scheduling only. Each net's
random state comes from (seed, dataset, arch) alone, so neither layout changes a number.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from vkdnw import layout
from vkdnw.io import parquet_metadata, read_parquet, write_parquet
from vkdnw.plan import recorded_settings
from vkdnw.proxies.registry import NetContext, check_settings, get_proxy, proxy_version
from vkdnw.spaces import nb201

META_COLUMNS = ("arch_str", "index", "seconds", "device", "torch_version", "error")
# What a block was scored with, in its Parquet metadata: a run may reuse its rows only where
# both match (``reuse_rows``).
VERSION_KEY, SETTINGS_KEY = "vkdnw.proxy_version", "vkdnw.settings"


def block_provenance(proxy: str, settings: dict[str, Any]) -> dict[str, str]:
    return {VERSION_KEY: proxy_version(proxy), SETTINGS_KEY: json.dumps(settings, sort_keys=True)}


def reuse_rows(files: list[str | Path], archs: list[str], proxy: str, settings: dict[str, Any]) -> dict[str, dict]:
    """Rows of ``archs`` that other runs' blocks (``files``, of this dataset and seed) already
    hold for the same group version and settings. A net's numbers depend only on (seed,
    dataset, arch, settings), so such a row is the row this job would compute; failed rows are
    scored again. A block whose recorded provenance differs is skipped. A block written before
    provenance was recorded is taken only at the group's version 1 (every such block was made
    at it), and only because the workflow passes a run's blocks where that run's config gives
    the group the same settings (:func:`vkdnw.plan.reuse_roots`)."""
    want, out, need = block_provenance(proxy, settings), {}, set(archs)
    for f in files:
        have = {k: parquet_metadata(f, k) for k in want}
        legacy = all(v is None for v in have.values()) and want[VERSION_KEY] == f"{proxy} v1"
        if have != want and not legacy:
            continue
        df = read_parquet(f, ("arch_str",))
        ok = df["error"].fillna("").astype(str) == ""  # a failed net is scored again
        for row in df[df["arch_str"].isin(need) & ok].to_dict("records"):
            out.setdefault(row["arch_str"], row)
    return out


def scoring_device(name: str | torch.device) -> torch.device:
    """The torch device a scoring job runs on, with full float32 convolutions and matmuls.

    PyTorch lets cuDNN convolutions round float32 to TF32 (10-bit mantissa) by default on
    Ampere and later GPUs. The float32 proxies would then move by about 1e-3 against the
    CPU's scores, and more where they cancel (ZiCo's std of two near-equal gradients), so a
    GPU run could not be checked against a CPU one; IEEE float32 keeps them comparable. The
    init and input are drawn on the CPU and moved, so only the arithmetic differs by device.
    """
    dev = torch.device(name)
    if dev.type == "cuda":
        # The new per-backend flags: mixing them with the legacy allow_tf32 ones is an error.
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    return dev


def read_arch_list(path: str | Path) -> list[str]:
    """Archs from a text file (one per line) or a Parquet/CSV with ``arch_str``; validated."""
    path = Path(path)
    if path.suffix == ".parquet":
        archs = read_parquet(path, ("arch_str",))["arch_str"].tolist()
    elif path.suffix == ".csv":
        try:
            table = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            table = pd.DataFrame({"arch_str": []})
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: not a readable CSV table ({exc})") from None
        if "arch_str" not in table.columns:
            raise ValueError(f"{path}: no 'arch_str' column (columns: {list(table.columns)[:8]})")
        archs = table["arch_str"].tolist()
    else:
        archs = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not archs:
        # An empty block would merge as "scored" and hide the mistake.
        raise ValueError(f"{path}: no archs listed")
    for i, a in enumerate(archs):
        try:
            nb201.parse_arch(a)
        except ValueError as exc:
            raise ValueError(f"{path}: line/row {i + 1}: {exc}") from None
    return archs


def score_net(proxy: str, ctx: NetContext) -> dict[str, Any]:
    """Score one net; a failure (NaN, failed SVD, ...) becomes NaN columns and an error."""
    spec = get_proxy(proxy)
    t0 = time.perf_counter()
    try:
        row: dict[str, Any] = dict(spec.fn(ctx))
        error = ""
    except (ArithmeticError, RuntimeError, ValueError, torch.linalg.LinAlgError) as exc:
        # "input" is the one text column; a failed net has no input to report.
        row = {c: (None if c == "input" else float("nan")) for c in spec.columns}
        error = f"{type(exc).__name__}: {exc}"
    row.update(
        arch_str=ctx.arch_str,
        index=nb201.arch_index(ctx.arch_str),
        seconds=time.perf_counter() - t0,
        device=str(ctx.device),
        torch_version=torch.__version__,
        error=error,
    )
    return row


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...], stamp: dict[str, Any]) -> pd.DataFrame:
    """A block's table; every row gets the job's ``stamp`` (:func:`recorded_settings`), reused
    rows included, since a job only ever takes rows scored at its own settings."""
    cols = ["arch_str", "index", *columns, *stamp, "seconds", "device", "torch_version", "error"]
    return pd.DataFrame(rows, columns=cols).assign(**stamp)


def score_block(
    archs: list[str],
    *,
    proxy: str,
    dataset: str,
    seed: int,
    settings: dict[str, Any],
    out: str | Path,
    device: str = "cpu",
    checkpoint_every: int = 1,
    progress: bool = True,
    reuse_from: list[str | Path] = (),
) -> pd.DataFrame:
    """Score ``archs`` and write ``out`` atomically.

    Progress is checkpointed atomically to ``<out>.partial.parquet`` after every
    ``checkpoint_every`` nets (default: each net, a few ms against a second of scoring), so a
    killed job resumes where it stopped and loses at most the net in flight. The finished
    block equals an uninterrupted one: each net's random state depends on nothing else.
    ``reuse_from``: other runs' results trees; their blocks of this dataset, seed and group
    give their rows where the provenance matches (:func:`reuse_rows`) instead of a rescoring.
    """
    spec = get_proxy(proxy)
    check_settings(proxy, settings)
    info = nb201.dataset_info(dataset)
    out = Path(out)
    partial = out.with_name(out.name + ".partial.parquet")
    rows: list[dict[str, Any]] = []
    if partial.exists():
        try:
            done = read_parquet(partial, ("arch_str",))
            rows = [r for r in done.to_dict("records") if r["arch_str"] in set(archs)]
        except ValueError:
            rows = []  # unreadable checkpoint: start over rather than trust it
    done_set = {r["arch_str"] for r in rows}
    files = [f for root in reuse_from for f in layout.run_blocks(layout.run(root, dataset, seed), proxy)]
    reused = reuse_rows(files, [a for a in archs if a not in done_set], proxy, settings) if files else {}
    rows += list(reused.values())
    done_set |= set(reused)
    todo = [a for a in archs if a not in done_set]
    if reuse_from:
        print(f"{proxy}/{dataset}/seed{seed}: {len(reused)} of {len(archs)} nets reused from "
              f"{len(files)} block(s) of {len(reuse_from)} other run(s)", file=sys.stderr)
    meta, stamp = block_provenance(proxy, settings), recorded_settings(proxy, settings)
    dev = scoring_device(device)
    for i, arch in enumerate(tqdm(todo, desc=f"{proxy}/{dataset}/seed{seed}", disable=not progress)):
        ctx = NetContext(arch, dataset, seed, info["num_classes"], info["resolution"], settings, dev)
        rows.append(score_net(proxy, ctx))
        if checkpoint_every and (i + 1) % checkpoint_every == 0 and i + 1 < len(todo):
            write_parquet(_frame(rows, spec.columns, stamp), partial, meta)
    order = {a: k for k, a in enumerate(archs)}
    df = _frame(sorted(rows, key=lambda r: order[r["arch_str"]]), spec.columns, stamp)
    write_parquet(df, out, meta)
    partial.unlink(missing_ok=True)
    return df
