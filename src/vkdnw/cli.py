"""``vkdnw``: a thin command line over the package; the Snakemake rules call it."""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from vkdnw.config import schema_default

def _settings(text: str) -> dict:
    """A JSON-object argument (--settings, --forest, ...); ValueError is main's one-line error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {text!r}")
    return value


def cmd_archs(a: argparse.Namespace) -> None:
    from vkdnw.workflow import write_archs

    write_archs(a.out)


def cmd_score(a: argparse.Namespace) -> None:
    from vkdnw.scoring import block_archs, read_arch_list, score_block, select_archs

    torch.set_num_threads(a.threads)
    if a.archs:
        archs = read_arch_list(a.archs)
    else:
        archs = select_archs(a.subset, a.n_archs, a.sample_seed)
        archs = block_archs(archs, a.block, a.block_size)
    score_block(archs, proxy=a.proxy, dataset=a.dataset, seed=a.seed, settings=_settings(a.settings),
                out=a.out, device=a.device, progress=not a.quiet)


def cmd_rescore(a: argparse.Namespace) -> None:
    """Score single archs and print JSON: the check that committed scores are recomputable.
    With ``--sample N`` the archs are N random committed nets of the config's run, and each
    row carries its committed values and relative differences."""
    from vkdnw.proxies.registry import NetContext, check_settings
    from vkdnw.rescore import committed_scores, compare, max_rel_diff, sample_committed
    from vkdnw.scoring import score_net, scoring_device
    from vkdnw.spaces.nb201 import dataset_info
    from vkdnw.config import load_config
    from vkdnw.workflow import ensure_surrogate, proxy_settings

    if bool(a.arch) == bool(a.sample):
        raise SystemExit("vkdnw rescore: give archs or --sample N (with --config), not both")
    if a.sample and not a.config:
        raise SystemExit("vkdnw rescore: --sample reads the committed scores of a --config's run")
    torch.set_num_threads(a.threads)
    cfg = load_config(a.config) if a.config else {}
    info = dataset_info(a.dataset)
    settings = proxy_settings(cfg, a.proxy, a.dataset) if cfg else _settings(a.settings)
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


def cmd_merge(a: argparse.Namespace) -> None:
    from vkdnw.workflow import merge_blocks

    merge_blocks(a.blocks, a.out, expected=a.expected, subset=a.subset, n_archs=a.n_archs,
                 sample_seed=a.sample_seed)


def cmd_ingest(a: argparse.Namespace) -> None:
    from vkdnw.benchmark import ingest

    ingest(a.benchmark, a.out, sha256=a.sha256, trust_pickle=a.trust_pickle)


def cmd_rank(a: argparse.Namespace) -> None:
    from vkdnw.ranking import write_ranks

    write_ranks(a.scores, a.out)


def cmd_metrics(a: argparse.Namespace) -> None:
    from vkdnw.metrics import run_metrics

    run_metrics(a.ranks, a.benchmark, a.out, dataset=a.dataset, seed=a.seed, ndcg_k=a.ndcg_k,
                batch_sizes=_settings(a.batch_sizes), scores_path=a.scores)


def cmd_model_metrics(a: argparse.Namespace) -> None:
    from vkdnw.model_driven import PAPER_ZCS_GROUPS, run_model_metrics

    run_model_metrics(a.scores, a.benchmark, a.out, dataset=a.dataset, seed=a.seed, n_train=a.n_train,
                      ndcg_k=a.ndcg_k, rf=_settings(a.forest), graf_degrees=a.graf_degrees, graf_ties=a.graf_path_ties,
                      zcs_required=PAPER_ZCS_GROUPS if a.zcs_required is None else a.zcs_required,
                      batch_sizes=_settings(a.batch_sizes))


def cmd_significance(a: argparse.Namespace) -> None:
    from vkdnw.significance import run_significance

    run_significance(a.ranks, a.benchmark, a.out, dataset=a.dataset, seed=a.seed, n_perm=a.n_perm,
                     n_boot=a.n_boot, ndcg_k=a.ndcg_k)


def cmd_concat(a: argparse.Namespace) -> None:
    import pandas as pd

    from vkdnw.io import read_parquet, write_text

    t = pd.concat([read_parquet(f, ("method",), remake=True) for f in a.inputs], ignore_index=True)
    write_text(t.to_csv(index=False, float_format="%.6g"), a.out)


def cmd_tables(a: argparse.Namespace) -> None:
    from vkdnw.metrics import write_tables

    write_tables(a.metrics, a.out_csv, a.out_md, subset=a.subset, title=a.title, table=a.table)


def cmd_figures(a: argparse.Namespace) -> None:
    from vkdnw.figures import draw_figures

    for path in draw_figures(a.scores, a.out_dir):
        print(path)


def cmd_seed_spread(a: argparse.Namespace) -> None:
    from vkdnw.seed_spread import spread_markdown, write_seed_spread

    t = write_seed_spread(a.metrics, a.out, a.out_md, reference_seed=a.reference_seed, subset=a.subset)
    print(spread_markdown(t, a.reference_seed), end="")


def cmd_model_variants(a: argparse.Namespace) -> None:
    from vkdnw.model_driven import model_variants

    t = model_variants(a.scores, a.benchmark, dataset=a.dataset, seeds=a.seeds, n_train=a.n_train,
                       ndcg_k=a.ndcg_k)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if a.out:
        from vkdnw.io import write_text

        write_text(t.to_csv(index=False, float_format="%.4f"), a.out)


def cmd_ablation_table(a: argparse.Namespace) -> None:
    from pathlib import Path

    from vkdnw.ablation import write_table

    # Each metrics file is .../ablations/{setting}/{dataset}/seed{seed}/metrics.parquet.
    runs: dict[str, list[str]] = {}
    for m in a.metrics:
        runs.setdefault(Path(m).parents[2].name, []).append(m)
    write_table(_settings(a.config), a.table, runs, a.out_csv, a.out_md)


def cmd_table7(a: argparse.Namespace) -> None:
    from vkdnw.metrics import write_top1_table

    write_top1_table(a.table, a.out_csv, a.out_md)


def cmd_html_table(a: argparse.Namespace) -> None:
    from vkdnw.metrics import write_html_table

    write_html_table(a.table, a.out, a.title)


def cmd_figure1(a: argparse.Namespace) -> None:
    from vkdnw.figures import draw_figure1

    for path in draw_figure1(a.table, a.out_dir):
        print(path)


def cmd_figure2(a: argparse.Namespace) -> None:
    from vkdnw.figures import draw_toy

    for path in draw_toy(a.out_dir):
        print(path)


def cmd_rank_accuracy(a: argparse.Namespace) -> None:
    from vkdnw.figures import draw_rank_accuracy

    for path in draw_rank_accuracy(a.ranks, a.benchmark, a.dataset, a.out_dir):
        print(path)


def cmd_table4(a: argparse.Namespace) -> None:
    from vkdnw.io import write_text
    from vkdnw.metrics import aleph_correlations
    from vkdnw.paper import DATASETS, TABLE4

    t = aleph_correlations(a.scores, nonfinite=a.nonfinite)
    write_text(t.to_csv(index=False, float_format="%.6g"), a.out_csv)
    datasets = list(t.columns[1:])
    head = "| component | " + " | ".join(f"{d} (ours / paper)" for d in datasets) + " |\n|" + "---|" * len(t.columns) + "\n"
    body = "".join(f"| {r.component} | " + " | ".join(
        f"{r[d]:.3f} / {TABLE4[r.component][DATASETS.index(d)]:.3f}" for d in datasets) + " |\n"
                   for _, r in t.iterrows())
    write_text(f"# table4: Kendall tau of aleph with each component (NaN and -inf scores: {a.nonfinite})\n\n"
               + head + body, a.out_md)


def cmd_table4_variants(a: argparse.Namespace) -> None:
    from vkdnw.io import write_text
    from vkdnw.table4_variants import table4_variants

    extra = dict(item.split("=", 1) for item in a.extra)
    t = table4_variants(a.scores, extra)
    write_text(t.to_csv(index=False, float_format="%.4f"), a.out)
    view = t.pivot_table(index=["run", "variant", "component"], columns="dataset", values="kt", sort=False)
    print(view.to_string(float_format=lambda v: f"{v:+.3f}"))


def cmd_compare(a: argparse.Namespace) -> None:
    from vkdnw.metrics import compare_with_paper

    print(compare_with_paper(a.table, a.kind), end="")


def cmd_compare_runs(a: argparse.Namespace) -> None:
    from vkdnw.io import atomic_write
    from vkdnw.metrics import compare_runs, runs_markdown

    df = compare_runs(a.run_a, a.run_b, a.benchmark, a.dataset, a.methods)
    if a.out:
        atomic_write(a.out, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6f"))
    print(runs_markdown(df), end="")


def cmd_bench(a: argparse.Namespace) -> None:
    from vkdnw.bench import bench_proxies, run_bench, run_roofline

    if a.space == "mbv2":
        from vkdnw.bench import bench_mbv2

        bench_mbv2(iterations=a.n_archs, batch_size=a.batch_size, resolution=a.resolution,
                   num_classes=a.num_classes, threads=a.threads, device=a.device, n_jacobian=a.n_jacobian,
                   out=a.out)
        return
    if a.search_aggregate:
        from vkdnw.bench import bench_search_aggregate

        bench_search_aggregate(sizes=a.search_aggregate, seed=a.seed, out=a.out)
        return
    if a.roofline:
        run_roofline(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size,
                     threads=a.threads, out=a.out)
        return
    if a.naswot_kernel:
        from vkdnw.bench import bench_naswot_kernel

        bench_naswot_kernel(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size,
                            threads=a.threads, out=a.out)
        return
    if a.ntk:
        from vkdnw.bench import bench_ntk

        bench_ntk(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size,
                  threads=a.threads, out=a.out)
        return
    if a.proxies:
        bench_proxies(proxies=a.proxies, datasets=a.dataset, n_archs=a.n_archs, seed=a.seed,
                      batch_size=a.batch_size, threads=a.threads, out=a.out, dtypes=tuple(a.dtypes),
                      device=a.device)
        return
    run_bench(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size, threads=a.threads,
              out=a.out, reference_dtype=a.reference_dtype, device=a.device, sweeps=a.sweeps)


def cmd_mbv2_search(a: argparse.Namespace) -> None:
    from tqdm import tqdm

    from vkdnw.evolution import run_search, settings_from_dict, work_dir_for, write_outputs

    torch.set_num_threads(a.threads)
    s = settings_from_dict(_settings(a.settings))
    work = work_dir_for(s, a.work_root)
    bar = tqdm(total=s.iterations, desc="mbv2 search", disable=a.quiet, mininterval=5)

    def progress(it: int, row: dict) -> None:
        bar.n = it + 1
        bar.refresh()

    log = run_search(s, work, chunk_rows=a.chunk_rows, progress=progress)
    bar.close()
    summary = write_outputs(log, s, a.out_dir, s.score.device)
    print(json.dumps({k: summary[k] for k in ("iterations", "candidates_per_second", "best_structure")}))


def cmd_mbv2_train(a: argparse.Namespace) -> None:
    from pathlib import Path

    from vkdnw.train_mbv2 import TrainSettings, check_data, plot_curves, train

    check_data(a.data)  # fail before torchrun spends anything
    try:
        s = TrainSettings(**_settings(a.settings))
    except TypeError as exc:
        raise ValueError(f"bad mbv2 train settings: {exc}") from None
    torch.set_num_threads(a.threads)
    structure = Path(a.structure).read_text().strip() if a.structure.endswith(".txt") else a.structure
    result = train(structure, a.data, a.out_dir, s)
    if int(os.environ.get("RANK", "0")) == 0:
        plot_curves(Path(a.out_dir) / "train_log.csv", a.out_dir)
        print(json.dumps({k: result[k] for k in ("top1", "top5", "epochs", "world_size")}))


def cmd_mbv2_check_data(a: argparse.Namespace) -> None:
    from vkdnw.train_mbv2 import check_data

    train, val = check_data(a.data)
    print(f"training data: {train} and {val}")


def cmd_mbv2_table2(a: argparse.Namespace) -> None:
    from vkdnw.train_mbv2 import write_table2

    write_table2(a.search_summary, a.train_metrics, a.out)


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


def cmd_archive(a: argparse.Namespace) -> None:
    from vkdnw.archive import config_from_json, write_archive

    m = write_archive(a.root, a.out, config=config_from_json(a.config), benchmark=a.benchmark)
    print(f"archived {len(m['files'])} files of {a.root} into {a.out}")


def cmd_verify_archive(a: argparse.Namespace) -> None:
    from vkdnw.archive import verify_archive

    problems = verify_archive(a.archive)
    if problems:
        raise ValueError(f"{a.archive}: {len(problems)} problem(s): " + "; ".join(problems[:5]))
    print(f"{a.archive}: OK")


def cmd_surrogate_data(a: argparse.Namespace) -> None:
    from vkdnw.data import write_surrogate_set

    folder = write_surrogate_set(a.dataset, a.out, n_images=a.n_images, seed=a.seed)
    print(f"{a.n_images} surrogate {a.dataset} images in {folder}")


def cmd_manifest(a: argparse.Namespace) -> None:
    from vkdnw.workflow import write_manifest

    write_manifest(a.config, a.out, a.inputs, wall_seconds_from=a.benchmarks)


def _run_evaluation_args(s: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments every per-run evaluation command takes."""
    s.add_argument("--benchmark", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--ndcg-k", type=int, default=1000)
    return s


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vkdnw", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("archs", help="write the NB201 arch table (index, arch_str, is_unique, aleph)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_archs)

    s = sub.add_parser("score", help="score one block of the arch list with one proxy group")
    s.add_argument("--proxy", required=True, help="a registered proxy group, e.g. vkdnw or aznas (an unknown name lists them)")
    s.add_argument("--dataset", required=True, help="NB201 dataset the nets are built for: cifar10, cifar100 "
                                                      "or ImageNet16-120")
    s.add_argument("--seed", type=int, required=True, help="run seed: with the dataset and arch it fixes init and input")
    s.add_argument("--subset", default=schema_default("subset"), choices=["all", "unique"],
                   help="nets the blocks are cut from (config `subset`)")
    s.add_argument("--n-archs", type=int, default=None, help="a fixed random sample of this many of them (config `n_archs`)")
    s.add_argument("--sample-seed", type=int, default=schema_default("sample_seed"),
                   help="seed of that sample (config `sample_seed`)")
    s.add_argument("--block", type=int, default=0, help="which block of the selection to score (0-based)")
    s.add_argument("--block-size", type=int, default=schema_default("block_size"),
                   help="nets per block (config `block_size`)")
    s.add_argument("--archs", help="score the archs in this file instead (text, CSV or Parquet)")
    s.add_argument("--settings", default="{}",
                   help='the group\'s settings as JSON, nested by group, e.g. \'{"vkdnw": {"batch_size": 8}}\'; '
                        "an unknown key is an error")
    s.add_argument("--device", default=schema_default("device"), help="cpu, cuda or cuda:N")
    s.add_argument("--threads", type=int, default=schema_default("threads"), help="CPU threads of torch")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--out", required=True, help="the block's Parquet file (written atomically; resumes from "
                                                 "<out>.partial.parquet)")
    s.set_defaults(func=cmd_score)

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

    s = sub.add_parser("surrogate-data", help="write patches of scikit-learn's sample photos in a dataset's "
                       "pickle layout (input=surrogate: natural-image statistics, not the dataset)")
    s.add_argument("--dataset", required=True, choices=["cifar10", "cifar100", "ImageNet16-120"])
    s.add_argument("--n-images", type=int, default=2000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_surrogate_data)

    s = sub.add_parser("merge", help="join the blocks of one (dataset, seed) into one table")
    s.add_argument("--blocks", nargs="+", required=True)
    s.add_argument("--subset", default="all", choices=["all", "unique"])
    s.add_argument("--n-archs", type=int, default=None)
    s.add_argument("--sample-seed", type=int, default=0)
    s.add_argument("--expected", action="store_true", help="check that every selected arch is present")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("ingest-benchmark", help="read a benchmark (CSV/Parquet table or NB201 .pth)")
    s.add_argument("--benchmark", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--sha256", help="expected SHA-256 of a .pth benchmark (checked before unpickling)")
    s.add_argument("--trust-pickle", action="store_true", help="unpickle a .pth without a checksum")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("rank", help="rank nets by each method")
    s.add_argument("--scores", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_rank)

    s = _run_evaluation_args(sub.add_parser("metrics", help="KT, SPR, nDCG and top-1 of every method for one run"))
    s.add_argument("--ranks", required=True)
    s.add_argument("--scores", help="the run's merged scores (for the input each method used)")
    s.add_argument("--batch-sizes", default="{}", help='JSON: batch size per proxy group, e.g. {"vkdnw": 64}')
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_metrics)

    s = _run_evaluation_args(sub.add_parser("model-metrics", help="model-driven rankings: random forests on "
                                                                   "n_train nets, test metrics"))
    s.add_argument("--scores", required=True)
    s.add_argument("--n-train", type=int, default=1024)
    s.add_argument("--forest", default="{}", help="RandomForestRegressor keyword arguments as JSON")
    s.add_argument("--graf-degrees", action="store_true",
                   help="also the GRAF models with GRAF's in/out-degree features, as rows of their own (+deg)")
    s.add_argument("--graf-path-ties", choices=["most", "first"], default="most",
                   help="GRAF's max_op_on_path among tied paths: the one with most S-edges, or the first "
                        "(zc_combine's)")
    s.add_argument("--zcs-required", nargs="*", metavar="GROUP",
                   help="proxy groups the (VKDNW+ZCS) models need (default: Table 1's zero-cost set, "
                        "model_driven.PAPER_ZCS_GROUPS)")
    s.add_argument("--batch-sizes", default="{}", help='JSON: batch size per proxy group, for the rows\' batch column')
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_model_metrics)

    s = _run_evaluation_args(sub.add_parser("significance", help="permutation p-values against random rankings "
                                                                  "and paired bootstrap intervals, one run"))
    s.add_argument("--ranks", required=True)
    s.add_argument("--n-perm", type=int, default=1000)
    s.add_argument("--n-boot", type=int, default=1000)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_significance)

    s = sub.add_parser("concat", help="concatenate Parquet tables into one CSV")
    s.add_argument("inputs", nargs="+")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_concat)

    s = sub.add_parser("tables", help="average per-run metrics over seeds into a table")
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--subset", required=True, choices=["all", "unique"])
    s.add_argument("--title", default="")
    s.add_argument("--out-csv", required=True)
    s.add_argument("--out-md", required=True)
    s.add_argument("--table", default="main", choices=["main", "components"],
                   help="main: Tables 1/6; components: Table 10 (subsets of VKDNW_agg)")
    s.set_defaults(func=cmd_tables)

    s = sub.add_parser("figures", help="Figures 3/4: VKDNW and AZ-NAS components against aleph and #params")
    s.add_argument("--scores", nargs="+", required=True, help="merged scores.parquet of the runs")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_figures)

    s = sub.add_parser("seed-spread", help="mean, std and one seed's deviation per row, over the seeds of a "
                                           "run (to read a one-seed run against the paper's 5-run means)")
    s.add_argument("--metrics", nargs="+", required=True, help="the runs' per-seed metrics.parquet")
    s.add_argument("--reference-seed", type=int, default=1, help="the seed whose deviation is reported")
    s.add_argument("--subset", default="unique", choices=["unique", "all"], help="unique: Table 1; all: Table 6")
    s.add_argument("--out", required=True, help="CSV of every metric")
    s.add_argument("--out-md", help="also KT/SPR as a markdown table")
    s.set_defaults(func=cmd_seed_spread)

    s = sub.add_parser("model-variants", help="the model-driven forests with other feature sets and targets, "
                                              "mean over seeds (to locate a gap to the paper)")
    s.add_argument("--scores", required=True)
    s.add_argument("--benchmark", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    s.add_argument("--n-train", type=int, default=1024)
    s.add_argument("--ndcg-k", type=int, default=1000)
    s.add_argument("--out", help="also write the table as CSV")
    s.set_defaults(func=cmd_model_variants)

    s = sub.add_parser("ablation-table", help="Table 5, 8 or 9 from the ablation runs' metrics")
    s.add_argument("--table", required=True, choices=["table5", "table8", "table9"])
    s.add_argument("--config", required=True, help="the workflow config (vkdnw and ablations) as JSON")
    s.add_argument("--metrics", nargs="+", required=True, help="ablations/{setting}/{dataset}/seed{s}/metrics.parquet")
    s.add_argument("--out-csv", required=True)
    s.add_argument("--out-md", required=True)
    s.set_defaults(func=cmd_ablation_table)

    s = sub.add_parser("table7", help="Table 7: top-1 accuracy of each method's pick, from a table1.csv")
    s.add_argument("--table", required=True, help="table1.csv written by the workflow")
    s.add_argument("--out-csv", required=True)
    s.add_argument("--out-md", required=True)
    s.set_defaults(func=cmd_table7)

    s = sub.add_parser("html-table", help="render a results CSV as an HTML table (for the report)")
    s.add_argument("table")
    s.add_argument("--title", default="")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_html_table)

    s = sub.add_parser("figure1", help="Figure 1: nDCG of the training-free methods, from a table1.csv")
    s.add_argument("--table", required=True)
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_figure1)

    s = sub.add_parser("figure2", help="Figure 2: the paper's toy example of two rankings")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_figure2)

    s = sub.add_parser("rank-accuracy", help="rank vs accuracy densities of the main methods of one run")
    s.add_argument("--ranks", required=True)
    s.add_argument("--benchmark", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_rank_accuracy)

    s = sub.add_parser("table4", help="Table 4: Kendall tau of aleph with VKDNW and the AZ-NAS components")
    s.add_argument("--scores", nargs="+", required=True, help="merged scores.parquet of the runs")
    s.add_argument("--nonfinite", choices=["lowest", "drop"], default="lowest",
                   help="NaN and -inf scores: last, as the rankings put them, or left out")
    s.add_argument("--out-csv", required=True)
    s.add_argument("--out-md", required=True)
    s.set_defaults(func=cmd_table4)

    s = sub.add_parser("table4-variants", help="Table 4 under other definitions (tau-a/b/c, sign, nets kept, "
                                               "VKDNW_single's rank), beside the paper's values")
    s.add_argument("--scores", nargs="+", required=True, help="merged scores.parquet of the runs")
    s.add_argument("--extra", nargs="*", default=[], metavar="LABEL=FILE",
                   help="further runs (e.g. the batch ablations' scores.parquet), committed definition only")
    s.add_argument("--out", required=True, help="CSV: run, variant, component, dataset, nets, kt, paper")
    s.set_defaults(func=cmd_table4_variants)

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

    s = sub.add_parser("bench", help="time the fast Fisher path against the authors' algorithm, or (--proxies) "
                                     "the cost of proxy groups")
    s.add_argument("--dataset", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    s.add_argument("--n-archs", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--reference-dtype", default="float32", choices=["float32", "float64"])
    s.add_argument("--proxies", nargs="+", help="instead: median cost per net of these proxy groups")
    s.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "float64"],
                   help="with --proxies: time each net in each precision (zico, grasp), back to back")
    s.add_argument("--naswot-kernel", action="store_true",
                   help="instead: NASWOT with its two-matmul float64 code kernel against the one-matmul float32 one")
    s.add_argument("--ntk", action="store_true",
                   help="instead: TE-NAS's NTK Jacobian, per-sample backward calls against one vmapped backward")
    s.add_argument("--roofline", action="store_true",
                   help="instead: the fast path against its floor of min(C, 64) float64 reverse sweeps")
    s.add_argument("--search-aggregate", type=int, nargs="+", metavar="N",
                   help="instead: seconds per MBV2 search iteration to choose parents among N scored "
                        "candidates, full re-rank against the running update")
    s.add_argument("--space", default="nb201", choices=["nb201", "mbv2"],
                   help="mbv2: candidates per second of the evolutionary search (--n-archs iterations)")
    s.add_argument("--resolution", type=int, default=224, help="mbv2 only")
    s.add_argument("--num-classes", type=int, default=1000, help="mbv2 only")
    s.add_argument("--device", default="cpu", help="cuda times a GPU (the Fisher path, mbv2 and --proxies)")
    s.add_argument("--sweeps", default="auto", choices=["auto", "sequential", "batched"],
                   help="the Fisher path's reverse sweeps: one after another (CPU), as batch replicas (GPU)")
    s.add_argument("--n-jacobian", type=int, default=3,
                   help="mbv2 only: candidates on which forward- and reverse-mode VKDNW Jacobians are timed")
    s.add_argument("--out", help="also write the per-net timings as CSV")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("mbv2-search", help="evolutionary search in the MobileNetV2 space (resumes from its log)")
    s.add_argument("--settings", required=True, help="the config's mbv2.search block as JSON")
    s.add_argument("--work-root", required=True, help="where the per-settings candidate logs live")
    s.add_argument("--chunk-rows", type=int, default=256, help="candidates per Parquet part of the log")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_mbv2_search)

    s = sub.add_parser("mbv2-train", help="train a searched MBV2 net on an ImageFolder (run it under torchrun "
                                          "for several GPUs); resumes from its checkpoint")
    s.add_argument("--structure", required=True, help="a structure string or best_structure.txt")
    s.add_argument("--data", default=None, help="folder with train/ and val/ (ImageFolder layout)")
    s.add_argument("--settings", default="{}", help="the config's mbv2.train block as JSON")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.set_defaults(func=cmd_mbv2_train)

    s = sub.add_parser("mbv2-check-data", help="check an ImageNet folder (train/ and val/) before training")
    s.add_argument("--data", default=None)
    s.set_defaults(func=cmd_mbv2_check_data)

    s = sub.add_parser("mbv2-table2", help="Table 2 row: FLOPs, params, top-1 and search cost")
    s.add_argument("--search-summary", required=True)
    s.add_argument("--train-metrics", default=None)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_mbv2_table2)

    s = sub.add_parser("mbv2-info", help="FLOPs (reference and counted), params and layers of a structure")
    s.add_argument("structure", help="a structure string or a best_structure.txt")
    s.add_argument("--resolution", type=int, default=224)
    s.add_argument("--num-classes", type=int, default=1000)
    s.set_defaults(func=cmd_mbv2_info)

    s = sub.add_parser("archive", help="pack a results tree and its provenance manifest into a tarball")
    s.add_argument("--root", required=True)
    s.add_argument("--config", default="{}", help="resolved config as JSON")
    s.add_argument("--benchmark", default=None)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_archive)

    s = sub.add_parser("verify-archive", help="recheck every file of an archive against its manifest")
    s.add_argument("archive")
    s.set_defaults(func=cmd_verify_archive)

    s = sub.add_parser("manifest", help="write a provenance manifest for a results directory")
    s.add_argument("--config", required=True)
    s.add_argument("--inputs", nargs="*", default=[])
    s.add_argument("--benchmarks", nargs="*", default=[])
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_manifest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"vkdnw {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
