"""Benchmark ingestion: NB201 ground truth from a table or from the official ``.pth``.

Output columns: ``arch_str``, ``nb201_index`` (the official index where known) and
``acc_<dataset>`` (test accuracy in percent after 200 epochs, averaged over trials:
``ori-test`` for cifar10, ``x-test`` for cifar100 and ImageNet16-120, as in NATS-Bench).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vkdnw.io import read_parquet, sha256_file, write_parquet
from vkdnw.spaces import nb201

# Key-value metadata of benchmark.parquet: the file it was ingested from, for the manifest.
BENCHMARK_SOURCE = "vkdnw_benchmark_source"
BENCHMARK_SHA256 = "vkdnw_benchmark_sha256"
# The NB201 API's evaluation split per dataset (what `get_more_info(...)['test-accuracy']` reads).
PTH_SPLIT = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}


def _acc_column(df: pd.DataFrame, dataset: str) -> str | None:
    for name in (f"test_acc_{dataset}", f"acc_{dataset}"):
        if name in df.columns:
            return name
    return None


def from_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        raw = read_parquet(path)
    else:
        try:
            raw = pd.read_csv(path)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ValueError(f"{path}: not a readable CSV table ({exc})") from None
    if "arch_str" not in raw.columns:
        raise ValueError(f"{path}: no 'arch_str' column (columns: {list(raw.columns)[:8]})")
    out = pd.DataFrame({"arch_str": raw["arch_str"]})
    if "index" in raw.columns:
        out["nb201_index"] = raw["index"].astype("int64")
    for ds in nb201.DATASETS:
        col = _acc_column(raw, ds)
        if col is not None:
            out[f"acc_{ds}"] = pd.to_numeric(raw[col], errors="raise")
    return out


def from_pth(path: Path) -> pd.DataFrame:
    """Read the official NAS-Bench-201 file through its API (``nas_201_api``)."""
    import torch
    from nas_201_api import NASBench201API

    try:
        # The official file is a pickle; weights_only refuses arbitrary objects in it.
        data = torch.load(path, map_location="cpu", weights_only=True)
        api = NASBench201API(data, verbose=False)
    except Exception as exc:
        raise ValueError(f"{path}: not a NAS-Bench-201 benchmark file ({type(exc).__name__}: {exc})") from None
    rows = []
    for idx in api.evaluated_indexes:
        row = {"arch_str": api.arch(idx), "nb201_index": int(idx)}
        for ds in nb201.DATASETS:
            try:
                info = api.get_more_info(idx, ds, hp="200", is_random=False)
            except (KeyError, ValueError, AssertionError):
                continue
            if "test-accuracy" in info:
                row[f"acc_{ds}"] = float(info["test-accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def validate(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    acc_cols = [c for c in df.columns if c.startswith("acc_")]
    if not acc_cols:
        raise ValueError(f"{path}: no accuracy columns (expected test_acc_<dataset> or acc_<dataset>)")
    if df.empty:
        raise ValueError(f"{path}: no rows")
    for i, a in enumerate(df["arch_str"]):
        try:
            nb201.parse_arch(a)
        except ValueError as exc:
            raise ValueError(f"{path}: row {i + 1}: {exc}") from None
    dup = df["arch_str"][df["arch_str"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: arch listed twice: {dup.iloc[0]}")
    for c in acc_cols:
        bad = df[c].notna() & ~df[c].between(0, 100)
        if bad.any():
            raise ValueError(f"{path}: {c} outside [0, 100] in {int(bad.sum())} rows (accuracy must be in percent)")
    return df.reset_index(drop=True)


def is_pickle(path: str | Path) -> bool:
    return Path(path).suffix in (".pth", ".pt")


def pickle_gate(path: str | Path, sha256: str | None, trust: bool, *, hash_file: bool = True,
                digest: str | None = None) -> None:
    """Refuse to unpickle a ``.pth`` unless its SHA-256 matches the pinned one or the user
    trusts it explicitly. ``weights_only=True`` already refuses code objects; the checksum also
    guarantees the ground truth is the file the results claim (no official checksum is
    published, so the user pins the one of their download)."""
    if not is_pickle(path) or trust:
        return
    if not sha256:
        raise ValueError(f"{path}: refusing to unpickle a benchmark .pth without a checksum; set "
                         "`benchmark_sha256` to the SHA-256 of your download, or `trust_benchmark_pickle: true`")
    if hash_file:
        actual = digest or sha256_file(path)  # the caller's digest spares hashing a 2 GB file twice
        if actual != sha256.lower():
            raise ValueError(f"{path}: SHA-256 {actual} does not match benchmark_sha256 {sha256}")


def load_benchmark(path: str | Path, *, sha256: str | None = None, trust_pickle: bool = True,
                   digest: str | None = None) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark file {path} does not exist; set `benchmark:` in the config")
    if is_pickle(path):
        pickle_gate(path, sha256, trust_pickle, digest=digest)
        df = from_pth(path)
    elif path.suffix in (".csv", ".parquet"):
        df = from_table(path)
    else:
        raise ValueError(f"{path}: unknown benchmark format (expected .csv, .parquet or NB201 .pth)")
    return validate(df, path)


def check_benchmark(path: str | Path | None, sha256: str | None = None, trust_pickle: bool = False) -> None:
    """Validate a configured benchmark when the workflow starts (cheap: ~0.1 s).

    A missing file stops the run here, even where an earlier run's ``benchmark.parquet``
    exists (Snakemake would otherwise keep the old tables and record the missing path). The
    official ``.pth`` is large and only loaded (and hashed) by its ingestion job; here it only
    has to come with a pinned checksum or an explicit trust flag.
    """
    if not path:
        return
    if not Path(path).exists():
        raise FileNotFoundError(f"benchmark file {path} does not exist; fix `benchmark:` in the config "
                                "or pass --config benchmark=/path/to/nb201_benchmark.csv")
    if is_pickle(path):
        pickle_gate(path, sha256, trust_pickle, hash_file=False)
    elif Path(path).suffix in (".csv", ".parquet"):
        load_benchmark(path)


def ingest(path: str | Path, out: str | Path, *, sha256: str | None = None, trust_pickle: bool = False) -> pd.DataFrame:
    digest = sha256_file(path)  # once: the .pth gate checks it, the manifest records it
    df = load_benchmark(path, sha256=sha256, trust_pickle=trust_pickle, digest=digest)
    write_parquet(df, out, metadata={BENCHMARK_SOURCE: str(Path(path).resolve()), BENCHMARK_SHA256: digest})
    return df
