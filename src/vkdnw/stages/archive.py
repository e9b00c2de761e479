"""Archive a results directory with its provenance, and verify such an archive.

The tarball holds the results tree and ``MANIFEST.yaml``: the resolved config, git commit and
dirty flag, ``pip freeze``, Python/torch/CUDA/cuDNN versions, the benchmark's checksum, the
hostname and SLURM job ids where known, and the SHA-256 of every file. Members are written in
sorted order with fixed owner and mtime, so two archives of identical results are identical
apart from the manifest's time fields.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from vkdnw.io import atomic_write
from vkdnw.io import sha256_file
from vkdnw.provenance import provenance

MANIFEST = "MANIFEST.yaml"
SKIP = re.compile(r"(\.tmp$|\.partial\.parquet$|(^|/)\.)")


def _pip_freeze() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True)
    return sorted(out.stdout.split("\n")) if out.returncode == 0 else [f"pip freeze failed: {out.stderr.strip()}"]


def collect_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not SKIP.search(p.relative_to(root).as_posix()))


def build_manifest(root: Path, files: list[Path], config: dict, benchmark: str | None) -> dict:
    return {
        **provenance(config),
        "root": root.name,
        "pip_freeze": _pip_freeze(),
        "benchmark": {"path": benchmark, "sha256": sha256_file(benchmark)} if benchmark else None,
        "files": {p.relative_to(root).as_posix(): sha256_file(p) for p in files},
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_archive(root: str | Path, out: str | Path, *, config: dict, benchmark: str | None = None) -> dict:
    root = Path(root)
    files = collect_files(root)
    manifest = build_manifest(root, files, config, benchmark)

    def write(tmp: Path) -> None:
        import gzip

        # gzip's own header carries a time stamp; pin it so identical trees give identical bytes.
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, f"{root.name}/{MANIFEST}", yaml.safe_dump(manifest, sort_keys=False).encode())
            for p in files:
                _add(tar, f"{root.name}/{p.relative_to(root).as_posix()}", p.read_bytes())

    atomic_write(out, write)
    return manifest


def verify_archive(path: str | Path) -> list[str]:
    """Problems found (empty when every file matches its manifest checksum)."""
    problems: list[str] = []
    try:
        tar = tarfile.open(path, "r:gz")
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as exc:
        return [f"{path}: not a readable archive ({type(exc).__name__}: {exc})"]
    with tar:
        names = [n for n in members if n.endswith("/" + MANIFEST)]
        if len(names) != 1:
            return [f"{path}: expected one {MANIFEST}, found {len(names)}"]
        prefix = names[0][: -len(MANIFEST)]
        manifest = yaml.safe_load(tar.extractfile(members[names[0]]).read())
        listed = manifest.get("files", {})
        for rel, digest in listed.items():
            m = members.get(prefix + rel)
            if m is None:
                problems.append(f"missing from archive: {rel}")
                continue
            actual = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
            if actual != digest:
                problems.append(f"checksum mismatch: {rel}")
        extra = sorted(set(members) - {prefix + r for r in listed} - {names[0]})
        problems += [f"not in manifest: {e}" for e in extra]
    return problems


def config_from_json(text: str) -> dict:
    return json.loads(text) if text.strip() else {}
