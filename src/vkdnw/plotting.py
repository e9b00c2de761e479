"""Matplotlib for files only, and the one way every figure is saved."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402

from vkdnw.io import atomic_write  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig: plt.Figure, out_dir: Path, stem: str) -> list[Path]:
    """Write ``stem``.png and .svg atomically, then free the figure."""
    written = []
    # No creation date, and SVG ids from a fixed salt: a rerun writes the same bytes, so an
    # archive's checksums compare across runs.
    metadata = {"png": {"Software": None}, "svg": {"Date": None}}
    with plt.rc_context({"svg.hashsalt": "vkdnw"}):
        for fmt in ("png", "svg"):
            out = Path(out_dir) / f"{stem}.{fmt}"
            atomic_write(out, lambda tmp: fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight",
                                                      metadata=metadata[fmt]))
            written.append(out)
    plt.close(fig)
    return written
