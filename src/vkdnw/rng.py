"""Per-net random state.

A net's init and input depend only on (run seed, dataset, arch, stream), never on the shard
layout or the order of work, so any net can be rescored alone to the same value.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, dataset: str, arch_str: str, stream: str) -> int:
    digest = hashlib.sha256(f"{seed}|{dataset}|{arch_str}|{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, dataset: str, arch_str: str, stream: str) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(derive_seed(seed, dataset, arch_str, stream))
    return g
