"""Developer tools: checks and analyses a person runs by hand, never a rule (rescoring committed
nets, comparisons with the paper and between runs, variant searches, archive checks)."""

from __future__ import annotations

import argparse
import json
import sys

from vkdnw.cli.common import json_object
from vkdnw.config import schema_default


def cmd_rescore(a: argparse.Namespace) -> None:
    """Score single archs and print JSON: the check that committed scores are recomputable.
    With ``--sample N`` the archs are N random committed nets of the config's run, and each
    row carries its committed values and relative differences."""
    import torch

    from vkdnw.proxies.registry import NetContext, check_settings
    from vkdnw.tools.rescore import committed_scores, compare, max_rel_diff, sample_committed
    from vkdnw.stages.scoring import score_net, scoring_device
    from vkdnw.spaces.nb201 import dataset_info
    from vkdnw.config import load_config
    from vkdnw.plan import proxy_settings
    from vkdnw.stages.archs import ensure_surrogate

    if bool(a.arch) == bool(a.sample):
        raise SystemExit("vkdnw rescore: give archs or --sample N (with --config), not both")
    if a.sample and not a.config:
        raise SystemExit("vkdnw rescore: --sample reads the committed scores of a --config's run")
    torch.set_num_threads(a.threads)
    cfg = load_config(a.config) if a.config else {}
    info = dataset_info(a.dataset)
    settings = proxy_settings(cfg, a.proxy, a.dataset) if cfg else json_object(a.settings)
    check_settings(a.proxy, settings)
    if cfg and (made := ensure_surrogate(cfg, settings, a.dataset)):
        print(f"wrote the config's surrogate images to {made}", file=sys.stderr)
    if a.sample:
        picked = sample_committed(committed_scores(cfg, a.dataset, a.seed), a.proxy, a.sample, a.sample_seed)
        todo = [(committed["arch_str"], committed) for _, committed in picked.iterrows()]
    else:
        todo = [(arch, None) for arch in a.arch]
    dev = scoring_device(a.device)
    rows = []
    for arch, committed in todo:
        ctx = NetContext(arch, a.dataset, a.seed, info["num_classes"], info["resolution"], settings, dev)
        row = score_net(a.proxy, ctx)
        rows.append(row if committed is None else compare(row, committed, a.proxy))
        print(json.dumps(rows[-1]))
    if a.sample:
        print(f"{a.proxy} {a.dataset}: {len(rows)} committed nets rescored, max relative difference "
              f"{max_rel_diff(rows):.2e}", file=sys.stderr)


def cmd_compare(a: argparse.Namespace) -> None:
    from vkdnw.stages.metrics import compare_with_paper

    print(compare_with_paper(a.table, a.kind), end="")


def cmd_compare_runs(a: argparse.Namespace) -> None:
    from vkdnw.io import atomic_write
    from vkdnw.stages.metrics import compare_runs, runs_markdown

    df = compare_runs(a.run_a, a.run_b, a.benchmark, a.dataset, a.methods)
    if a.out:
        atomic_write(a.out, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6f"))
    print(runs_markdown(df), end="")


def cmd_model_variants(a: argparse.Namespace) -> None:
    from vkdnw.stages.model_driven import model_variants

    t = model_variants(a.scores, a.benchmark, dataset=a.dataset, seeds=a.seeds, n_train=a.n_train,
                       ndcg_k=a.ndcg_k, subset=a.subset)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if a.out:
        from vkdnw.io import write_text

        write_text(t.to_csv(index=False, float_format="%.4f"), a.out)


def cmd_table4_variants(a: argparse.Namespace) -> None:
    from vkdnw.io import write_text
    from vkdnw.tools.table4_variants import table4_variants

    from vkdnw.layout import parse_labelled

    extra = []
    for label, path in parse_labelled(a.extra, "LABEL@DATASET"):
        name, at, dataset = label.rpartition("@")
        if not at:
            raise ValueError(f"--extra: expected LABEL@DATASET=PATH, got {label}={path}")
        extra.append((name, dataset, path))
    t = table4_variants(parse_labelled(a.scores, "DATASET"), extra)
    write_text(t.to_csv(index=False, float_format="%.4f"), a.out)
    view = t.pivot_table(index=["run", "variant", "component"], columns="dataset", values="kt", sort=False)
    print(view.to_string(float_format=lambda v: f"{v:+.3f}"))


def cmd_seed_spread(a: argparse.Namespace) -> None:
    from vkdnw.tools.seed_spread import spread_markdown, write_seed_spread

    t = write_seed_spread(a.metrics, a.out, a.out_md, reference_seed=a.reference_seed, subset=a.subset)
    print(spread_markdown(t, a.reference_seed), end="")


def cmd_mbv2_info(a: argparse.Namespace) -> None:
    from vkdnw.spaces import mbv2

    struct = mbv2.parse(open(a.structure).read() if a.structure.endswith(".txt") else a.structure)
    net = mbv2.build_network(struct, a.num_classes)
    print(json.dumps({
        "structure": mbv2.to_str(struct),
        "flops_reference": mbv2.flops_reference(struct, a.resolution, a.num_classes),
        "macs_counted": mbv2.count_macs(net, a.resolution),
        "params": sum(p.numel() for p in net.parameters()),
        "layers": mbv2.num_layers(struct),
    }, indent=1))


def cmd_verify_archive(a: argparse.Namespace) -> None:
    from vkdnw.stages.archive import verify_archive

    problems = verify_archive(a.archive)
    if problems:
        raise ValueError(f"{a.archive}: {len(problems)} problem(s): " + "; ".join(problems[:5]))
    print(f"{a.archive}: OK")


def cmd_proxies(a: argparse.Namespace) -> None:
    from vkdnw.proxies.registry import get_proxy, list_proxies
    from vkdnw.stages.ranking import METHODS

    for name in list_proxies():
        spec = get_proxy(name)
        rows = [m.name for m in METHODS.values() if name in m.groups and m.in_table]
        flags = [f for f, on in (("default run", spec.default_run), ("ablations only", spec.ablation_only),
                                 ("float64", spec.float64)) if on]
        print(f"{name} v{spec.version}: columns {', '.join(spec.columns)}; settings "
              f"{', '.join(f'{k}={v}' for k, v in spec.settings.items()) or '-'}; "
              f"paper input {spec.paper_input or '-'}; rows {', '.join(rows) or '-'}"
              + (f"; {', '.join(flags)}" if flags else ""))


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("proxies", help="the registered proxy groups: version, score columns, settings, the "
                                       "table rows each feeds")
    s.set_defaults(func=cmd_proxies)

    s = sub.add_parser("rescore", help="score single archs and print one JSON row each")
    s.add_argument("--proxy", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--config", help="take the proxy settings from this workflow config")
    s.add_argument("--settings", default="{}")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--sample", type=int, help="instead of archs: this many random committed nets of the config's run")
    s.add_argument("--sample-seed", type=int, default=0, help="with --sample: the draw's numpy seed")
    s.add_argument("--device", default="cpu", help="cuda: rescore on a GPU (against CPU-made committed scores)")
    s.add_argument("arch", nargs="*")
    s.set_defaults(func=cmd_rescore)

    s = sub.add_parser("compare", help="print a results table beside the paper's numbers (Markdown)")
    s.add_argument("table", help="a table1.csv or table6.csv written by the workflow")
    s.add_argument("--kind", default="table1", choices=["table1", "table6", "table10"])
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("compare-runs", help="KT/SPR of each method in two runs on the nets both scored "
                       "(e.g. noise vs image input)")
    s.add_argument("run_a", help="a run folder (.../{dataset}/seed{s}) with ranks.parquet and scores.parquet")
    s.add_argument("run_b")
    s.add_argument("--benchmark", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--methods", nargs="+", help="the methods to compare (default: all ranked in both)")
    s.add_argument("--out", help="also write the comparison as CSV")
    s.set_defaults(func=cmd_compare_runs)

    s = sub.add_parser("model-variants", help="the model-driven forests with other feature sets and targets, "
                                              "mean over seeds (to locate a gap to the paper)")
    s.add_argument("--scores", required=True)
    s.add_argument("--benchmark", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    s.add_argument("--n-train", type=int, default=schema_default("model_driven", "n_train"),
                   help="training nets (config `model_driven.n_train`)")
    s.add_argument("--ndcg-k", type=int, default=schema_default("metrics", "ndcg_k"),
                   help="nDCG's cut-off (config `metrics.ndcg_k`)")
    s.add_argument("--subset", default="unique", choices=["unique", "all"],
                   help="the run's nets to use: unique (Table 1) or all (Table 6)")
    s.add_argument("--out", help="also write the table as CSV")
    s.set_defaults(func=cmd_model_variants)

    s = sub.add_parser("table4-variants", help="Table 4 under other definitions (tau-a/b/c, sign, nets kept, "
                                               "VKDNW_single's rank), beside the paper's values")
    s.add_argument("--scores", nargs="+", required=True, metavar="DATASET=PATH", help="merged scores.parquet of the runs")
    s.add_argument("--extra", nargs="*", default=[], metavar="LABEL@DATASET=PATH",
                   help="further runs (e.g. the batch ablations' scores.parquet), committed definition only")
    s.add_argument("--out", required=True, help="CSV: run, variant, component, dataset, nets, kt, paper")
    s.set_defaults(func=cmd_table4_variants)

    s = sub.add_parser("seed-spread", help="mean, std and one seed's deviation per row, over the seeds of a "
                                           "run (to read a one-seed run against the paper's 5-run means)")
    s.add_argument("--metrics", nargs="+", required=True, help="the runs' per-seed metrics.parquet")
    s.add_argument("--reference-seed", type=int, default=1, help="the seed whose deviation is reported")
    s.add_argument("--subset", default="unique", choices=["unique", "all"], help="unique: Table 1; all: Table 6")
    s.add_argument("--out", required=True, help="CSV of every metric")
    s.add_argument("--out-md", help="also KT/SPR as a markdown table")
    s.set_defaults(func=cmd_seed_spread)

    s = sub.add_parser("mbv2-info", help="FLOPs (reference and counted), params and layers of a structure")
    s.add_argument("structure", help="a structure string or a best_structure.txt")
    s.add_argument("--resolution", type=int, default=224)
    s.add_argument("--num-classes", type=int, default=1000)
    s.set_defaults(func=cmd_mbv2_info)

    s = sub.add_parser("verify-archive", help="recheck every file of an archive against its manifest")
    s.add_argument("archive")
    s.set_defaults(func=cmd_verify_archive)
