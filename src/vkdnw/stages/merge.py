"""Stage 2: join one run's score blocks into one row per arch, each row with the settings its
groups were scored at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from vkdnw.io import corrupt_copy, read_parquet, write_parquet
from vkdnw.plan import ROW_SETTINGS, recorded_settings, select_archs
from vkdnw.spaces import nb201
from vkdnw.stages.scoring import META_COLUMNS


def with_recorded_settings(df: pd.DataFrame, proxy: str, settings: dict[str, Any] | None) -> pd.DataFrame:
    """A group's rows with the batch size and precision they were scored at. Blocks record
    them; blocks scored before rows did get them from ``settings`` (the run's settings of the
    group: a block the workflow merges is up to date with them). Where both exist they must
    agree: a block scored at other settings is an error, not a mislabelled row."""
    if settings is None:
        return df
    want = recorded_settings(proxy, {proxy: settings})
    for key, value in want.items():
        if key not in df.columns:
            df = df.assign(**{key: value})
        elif not (df[key] == value).all():
            raise ValueError(f"proxy {proxy}: blocks scored at {key} {sorted(set(df[key]))}, the run's settings "
                             f"say {value}; rescore them (delete the blocks) or fix the config")
    return df


def merge_blocks(
    blocks: list[tuple[str, str]],
    out: str | Path,
    *,
    expected: bool = False,
    subset: str = "all",
    n_archs: int | None = None,
    sample_seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Join all proxies' score blocks of one run into one row per arch.

    ``blocks`` are (proxy group, block file) pairs. Per-proxy metadata become ``seconds_<proxy>``, ``error_<proxy>``, ``input_<proxy>`` and the
    settings each row was scored at, ``batch_size_<proxy>`` and ``dtype_<proxy>``
    (``settings``, the run's job settings by group, checks them and fills in those of blocks
    scored before rows recorded them: :func:`with_recorded_settings`). A corrupt block, an
    arch scored twice, disagreeing shared columns or (with ``expected``) a missing arch is an
    error: nothing is merged silently. A corrupt block is also renamed to ``*.corrupt`` so
    that rerunning the workflow recomputes it.
    """
    per_proxy: dict[str, list[pd.DataFrame]] = {}
    corrupt: list[str] = []
    for proxy, s in blocks:
        path = Path(s)
        try:
            per_proxy.setdefault(proxy, []).append(read_parquet(path, META_COLUMNS, remake=True))
        except ValueError as exc:
            # Readable but malformed (missing columns): moved aside too, so that it is rescored.
            if path.exists():
                path.replace(corrupt_copy(path))
            corrupt.append(f"{path} ({exc})")
    if corrupt:
        raise ValueError(f"{len(corrupt)} corrupt block(s) moved aside as *.corrupt; rerun snakemake to "
                         f"rescore them: " + "; ".join(corrupt))
    merged: pd.DataFrame | None = None
    for proxy in sorted(per_proxy):
        df = pd.concat(per_proxy[proxy], ignore_index=True)
        dup = df["arch_str"][df["arch_str"].duplicated()]
        if len(dup):
            raise ValueError(f"proxy {proxy}: arch scored twice across blocks, e.g. {dup.iloc[0]}")
        df = with_recorded_settings(df, proxy, (settings or {}).get(proxy))
        df = df.rename(columns={"seconds": f"seconds_{proxy}", "error": f"error_{proxy}", "input": f"input_{proxy}",
                                **{k: f"{k}_{proxy}" for k in ROW_SETTINGS}})
        df = df.drop(columns=["device", "torch_version"]).assign(**{
            f"device_{proxy}": df["device"], f"torch_version_{proxy}": df["torch_version"]})
        if merged is None:
            merged = df
            continue
        shared = [c for c in df.columns if c in merged.columns and c != "arch_str"]
        joined = merged.merge(df, on="arch_str", how="outer", suffixes=("", "__new"), validate="1:1")
        for c in shared:
            a, b = joined[c], joined[f"{c}__new"]
            both = a.notna() & b.notna()
            if not (a[both] == b[both]).all():
                raise ValueError(f"column {c!r} disagrees between proxies")
            joined[c] = a.fillna(b)
            joined = joined.drop(columns=f"{c}__new")
        merged = joined
    if merged is None:
        raise ValueError("no blocks to merge")
    if expected:
        want = set(select_archs(subset, n_archs, sample_seed))
        have = set(merged["arch_str"])
        if want != have:
            raise ValueError(f"merged archs differ from the selection: {len(want - have)} missing, "
                             f"{len(have - want)} unexpected")
    merged["index"] = merged["index"].astype("int64")
    merged["is_unique"] = merged["arch_str"].map(nb201.is_unique)
    merged = merged.sort_values("index").reset_index(drop=True)
    write_parquet(merged, out)
    return merged
