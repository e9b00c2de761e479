"""vkdnw: the VKDNW reproduction's command line, a thin layer over the package.

Workflow steps (the Snakemake rules call these): archs, score, surrogate-data, merge,
ingest-benchmark, rank, metrics, model-metrics, significance, concat, tables, figures,
ablation-table, table7, table4, html-table, figure1, figure2, rank-accuracy, manifest, archive,
and the MobileNetV2 stage's mbv2-search, mbv2-check-data, mbv2-train, mbv2-table2.
Tools (run by hand): rescore, compare, compare-runs, model-variants, table4-variants,
seed-spread, mbv2-info, verify-archive, and bench MODE for speed measurements.
"""

from __future__ import annotations

import argparse
import os
import sys

from vkdnw.cli import bench, mbv2, stages, tools


def build_parser() -> argparse.ArgumentParser:
    first, rest = __doc__.split("\n", 1)
    p = argparse.ArgumentParser(prog="vkdnw", description=first, epilog=rest.strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for commands in (stages, mbv2, tools, bench):
        commands.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"vkdnw {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`vkdnw proxies | head`): as any Unix filter, stop quietly.
        # stdout is pointed at /dev/null so that Python's exit flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
