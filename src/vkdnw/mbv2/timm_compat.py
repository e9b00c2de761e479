"""Import timm on a CPU-only torch.

timm imports torchvision. torchvision's PyPI wheels are built against CUDA torch: on the CPU
torch build (what this project installs on machines without a GPU) its C extension cannot
load, and ``import torchvision`` then fails while registering fake kernels for the
``torchvision::nms``/``qnms`` operators it could not load. We use only torchvision's
transforms and datasets (through timm), never those operators, so where the import fails
for that reason we declare the two schemas and import again. With a matching torchvision
(any GPU install) this does nothing.
"""

from __future__ import annotations

import sys

import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_lib: torch.library.Library | None = None


def _op_defined(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def import_timm():
    global _lib
    try:
        import torchvision  # noqa: F401
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _lib = torch.library.Library("torchvision", "FRAGMENT")
        for name, schema in _SCHEMAS.items():
            if not _op_defined(name):
                _lib.define(schema)
        import torchvision  # noqa: F401
    import timm

    return timm
