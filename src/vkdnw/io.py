"""Atomic file writes and validated Parquet reads."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but we write from one thread)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temp file next to ``path``, fsync, then rename over ``path``.

    A crash or a full disk leaves at most a ``.tmp`` file, never a partial ``path``. The file
    gets the mode a plain ``open(path, "w")`` would (0666 less the umask): ``mkstemp`` makes
    its temp file 0600, which would hide results from colleagues on a shared cluster.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def corrupt_copy(path: str | Path) -> Path:
    """Where ``read_parquet(..., remake=True)`` moves a corrupt workflow output."""
    path = Path(path)
    return path.with_name(path.name + ".corrupt")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_parquet(df: pd.DataFrame, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write atomically, with optional ``metadata`` in the file's key-value metadata. A
    ``.corrupt`` copy left by an earlier failed read of ``path`` has served its purpose (making
    Snakemake remake the file) and is removed."""
    def write(tmp: Path) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        if metadata:
            extra = {k.encode(): v.encode() for k, v in metadata.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
        pq.write_table(table, tmp)

    atomic_write(path, write)
    corrupt_copy(path).unlink(missing_ok=True)
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_parquet(path: str | Path, required: tuple[str, ...] = (), *, remake: bool = False) -> pd.DataFrame:
    """Read a Parquet file; a truncated/corrupt file or missing columns is a clear error.

    ``remake``: the file is a workflow output (a score block, a merged run, ranks, metrics).
    A corrupt one is then moved aside to ``<name>.corrupt``, so that the next ``snakemake``
    call sees it missing and makes it again instead of failing on it for ever.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        df = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        if remake:
            aside = path.replace(corrupt_copy(path))
            raise ValueError(f"{path}: not a readable Parquet file ({exc}); moved aside as "
                             f"{aside.name}: rerun snakemake to make it again") from exc
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return df


def parquet_metadata(path: str | Path, key: str) -> str | None:
    """One key of a Parquet file's key-value metadata (written by ``write_parquet``)."""
    value = (pq.read_schema(path).metadata or {}).get(key.encode())
    return value.decode() if value is not None else None
