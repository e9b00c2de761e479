"""What the command modules share: JSON-object arguments and the per-run evaluation flags."""

from __future__ import annotations

import argparse
import json

from vkdnw.config import schema_default


def json_object(text: str) -> dict:
    """A JSON-object argument (--settings, --forest, ...); ValueError is main's one-line error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {text!r}")
    return value


def evaluation_args(s: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments every per-run evaluation command takes."""
    s.add_argument("--benchmark", required=True, help="the ingested benchmark (benchmark.parquet)")
    s.add_argument("--dataset", required=True, help="cifar10, cifar100 or ImageNet16-120")
    s.add_argument("--seed", type=int, required=True, help="the run's seed")
    s.add_argument("--ndcg-k", type=int, default=schema_default("metrics", "ndcg_k"),
                   help="nDCG's cut-off (config `metrics.ndcg_k`)")
    return s
