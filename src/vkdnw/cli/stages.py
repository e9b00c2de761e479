"""The NB201 stages' commands: what the Snakemake rules call, one per rule (scoring, merge,
ranking, metrics, tables and figures, provenance)."""

from __future__ import annotations

import argparse

from vkdnw.cli.common import evaluation_args, json_object
from vkdnw.config import schema_default
from vkdnw.layout import parse_labelled


def cmd_archs(a: argparse.Namespace) -> None:
    from vkdnw.stages.archs import write_archs

    write_archs(a.out)


def cmd_score(a: argparse.Namespace) -> None:
    import torch

    from vkdnw.plan import block_archs, select_archs
    from vkdnw.stages.scoring import read_arch_list, score_block

    torch.set_num_threads(a.threads)
    if a.archs:
        archs = read_arch_list(a.archs)
    else:
        archs = select_archs(a.subset, a.n_archs, a.sample_seed)
        archs = block_archs(archs, a.block, a.block_size)
    score_block(archs, proxy=a.proxy, dataset=a.dataset, seed=a.seed, settings=json_object(a.settings),
                out=a.out, device=a.device, progress=not a.quiet, reuse_from=a.reuse_from)


def cmd_surrogate_data(a: argparse.Namespace) -> None:
    from vkdnw.data import write_surrogate_set

    folder = write_surrogate_set(a.dataset, a.out, n_images=a.n_images, seed=a.seed)
    print(f"{a.n_images} surrogate {a.dataset} images in {folder}")


def cmd_merge(a: argparse.Namespace) -> None:
    from vkdnw.stages.merge import merge_blocks

    merge_blocks(parse_labelled(a.blocks, "PROXY"), a.out, expected=a.expected, subset=a.subset, n_archs=a.n_archs,
                 sample_seed=a.sample_seed, settings=json_object(a.settings) if a.settings else None)


def cmd_ingest(a: argparse.Namespace) -> None:
    from vkdnw.stages.benchmark import ingest

    ingest(a.benchmark, a.out, sha256=a.sha256, trust_pickle=a.trust_pickle)


def cmd_rank(a: argparse.Namespace) -> None:
    from vkdnw.stages.ranking import write_ranks

    write_ranks(a.scores, a.out)


def cmd_metrics(a: argparse.Namespace) -> None:
    from vkdnw.stages.metrics import run_metrics

    run_metrics(a.ranks, a.benchmark, a.out, dataset=a.dataset, seed=a.seed, ndcg_k=a.ndcg_k, scores_path=a.scores)


def cmd_model_metrics(a: argparse.Namespace) -> None:
    from vkdnw.stages.model_driven import PAPER_ZCS_GROUPS, run_model_metrics

    run_model_metrics(a.scores, a.benchmark, a.out, dataset=a.dataset, seed=a.seed, n_train=a.n_train,
                      ndcg_k=a.ndcg_k, rf=json_object(a.forest), graf_full=a.graf_full, graf_ties=a.graf_path_ties,
                      zcs_required=PAPER_ZCS_GROUPS if a.zcs_required is None else a.zcs_required)


def cmd_significance(a: argparse.Namespace) -> None:
    from vkdnw.stages.significance import run_significance

    run_significance(a.ranks, a.benchmark, a.out, dataset=a.dataset, seed=a.seed, n_perm=a.n_perm,
                     n_boot=a.n_boot, ndcg_k=a.ndcg_k)


def cmd_concat(a: argparse.Namespace) -> None:
    import pandas as pd

    from vkdnw.io import read_parquet, write_text

    t = pd.concat([read_parquet(f, ("method",), remake=True) for f in a.inputs], ignore_index=True)
    write_text(t.to_csv(index=False, float_format="%.6g"), a.out)


def cmd_tables(a: argparse.Namespace) -> None:
    from vkdnw.stages.metrics import write_tables

    write_tables(a.metrics, a.out_csv, a.out_md, subset=a.subset, title=a.title, table=a.table)


def cmd_figures(a: argparse.Namespace) -> None:
    from vkdnw.stages.figures import draw_figures

    for path in draw_figures(parse_labelled(a.scores, "DATASET"), a.out_dir):
        print(path)


def cmd_ablation_table(a: argparse.Namespace) -> None:
    from vkdnw.stages.ablation import write_table

    runs: dict[str, list[str]] = {}
    for setting, m in parse_labelled(a.metrics, "SETTING"):
        runs.setdefault(setting, []).append(m)
    write_table(json_object(a.config), a.table, runs, a.out_csv, a.out_md)


def cmd_table7(a: argparse.Namespace) -> None:
    from vkdnw.stages.metrics import write_top1_table

    write_top1_table(a.table, a.out_csv, a.out_md)


def cmd_html_table(a: argparse.Namespace) -> None:
    from vkdnw.stages.metrics import write_html_table

    write_html_table(a.table, a.out, a.title)


def cmd_figure1(a: argparse.Namespace) -> None:
    from vkdnw.stages.figures import draw_figure1

    for path in draw_figure1(a.table, a.out_dir):
        print(path)


def cmd_figure2(a: argparse.Namespace) -> None:
    from vkdnw.stages.figures import draw_toy

    for path in draw_toy(a.out_dir):
        print(path)


def cmd_rank_accuracy(a: argparse.Namespace) -> None:
    from vkdnw.stages.figures import draw_rank_accuracy

    for path in draw_rank_accuracy(a.ranks, a.benchmark, a.dataset, a.out_dir):
        print(path)


def cmd_table4(a: argparse.Namespace) -> None:
    from vkdnw.io import write_text
    from vkdnw.stages.metrics import aleph_correlations
    from vkdnw.paper import DATASETS, TABLE4

    t = aleph_correlations(parse_labelled(a.scores, "DATASET"), nonfinite=a.nonfinite)
    write_text(t.to_csv(index=False, float_format="%.6g"), a.out_csv)
    datasets = list(t.columns[1:])
    head = "| component | " + " | ".join(f"{d} (ours / paper)" for d in datasets) + " |\n|" + "---|" * len(t.columns) + "\n"
    body = "".join(f"| {r.component} | " + " | ".join(
        f"{r[d]:.3f} / {TABLE4[r.component][DATASETS.index(d)]:.3f}" for d in datasets) + " |\n"
                   for _, r in t.iterrows())
    write_text(f"# table4: Kendall tau of aleph with each component (NaN and -inf scores: {a.nonfinite})\n\n"
               + head + body, a.out_md)


def cmd_archive(a: argparse.Namespace) -> None:
    from vkdnw.stages.archive import config_from_json, write_archive

    m = write_archive(a.root, a.out, config=config_from_json(a.config), benchmark=a.benchmark)
    print(f"archived {len(m['files'])} files of {a.root} into {a.out}")


def cmd_manifest(a: argparse.Namespace) -> None:
    from vkdnw.stages.manifest import write_manifest

    write_manifest(a.config, a.out, a.inputs, wall_seconds_from=a.benchmarks, runs=parse_labelled(a.runs, "RUN"),
                   benchmark=a.benchmark)


def add_commands(sub: argparse._SubParsersAction) -> None:
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
    s.add_argument("--reuse-from", nargs="*", default=[], metavar="RESULTS",
                   help="other runs' results trees: their rows of these nets, made with the same group "
                        "version and settings, are taken instead of rescored (config `reuse_scores`)")
    s.add_argument("--out", required=True, help="the block's Parquet file (written atomically; resumes from "
                                                 "<out>.partial.parquet)")
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("surrogate-data", help="write patches of scikit-learn's sample photos in a dataset's "
                       "pickle layout (input=surrogate: natural-image statistics, not the dataset)")
    s.add_argument("--dataset", required=True, choices=["cifar10", "cifar100", "ImageNet16-120"])
    s.add_argument("--n-images", type=int, default=2000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_surrogate_data)

    s = sub.add_parser("merge", help="join the blocks of one (dataset, seed) into one table")
    s.add_argument("--blocks", nargs="+", required=True, metavar="PROXY=PATH",
                   help="each block with the proxy group it holds")
    s.add_argument("--subset", default=schema_default("subset"), choices=["all", "unique"],
                   help="with --expected: the selection (config `subset`)")
    s.add_argument("--n-archs", type=int, default=None, help="with --expected: its sample size (config `n_archs`)")
    s.add_argument("--sample-seed", type=int, default=schema_default("sample_seed"),
                   help="with --expected: its sample seed (config `sample_seed`)")
    s.add_argument("--expected", action="store_true", help="check that every selected arch is present")
    s.add_argument("--settings", help='JSON: the run\'s scoring settings by group, as the scoring jobs got them (e.g. '
                   '\'{"vkdnw": {"batch_size": 8, ...}}\'): checks the batch size and precision the blocks '
                   'record, and gives them to blocks scored before rows recorded them')
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

    s = evaluation_args(sub.add_parser("metrics", help="KT, SPR, nDCG and top-1 of every method for one run"))
    s.add_argument("--ranks", required=True)
    s.add_argument("--scores", help="the run's merged scores (for the input each method used)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_metrics)

    s = evaluation_args(sub.add_parser("model-metrics", help="model-driven rankings: random forests on "
                                                                   "n_train nets, test metrics"))
    s.add_argument("--scores", required=True)
    s.add_argument("--n-train", type=int, default=schema_default("model_driven", "n_train"),
                   help="training nets of the forests (config `model_driven.n_train`)")
    s.add_argument("--forest", default="{}", help="RandomForestRegressor keyword arguments as JSON")
    s.add_argument("--graf-full", action="store_true",
                   help="also the GRAF models with all of zc_combine's nb201_full GRAF features (min_path_len "
                        "too), as rows of their own (GRAF_full)")
    s.add_argument("--graf-path-ties", choices=["most", "first"],
                   default=schema_default("model_driven", "graf_path_ties"),
                   help="GRAF's max_op_on_path among tied paths: the first, as zc_combine's networkx "
                        "returns it, or the one with most S-edges")
    s.add_argument("--zcs-required", nargs="*", metavar="GROUP",
                   help="proxy groups the (VKDNW+ZCS) models need (default: Table 1's zero-cost set, "
                        "vkdnw.paper.TABLE1_ZERO_COST_GROUPS)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_model_metrics)

    s = evaluation_args(sub.add_parser("significance", help="permutation p-values against random rankings "
                                                                  "and paired bootstrap intervals, one run"))
    s.add_argument("--ranks", required=True)
    s.add_argument("--n-perm", type=int, default=schema_default("significance", "n_perm"),
                   help="random rankings per method (config `significance.n_perm`)")
    s.add_argument("--n-boot", type=int, default=schema_default("significance", "n_boot"),
                   help="bootstrap resamples (config `significance.n_boot`)")
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
    s.add_argument("--scores", nargs="+", required=True, metavar="DATASET=PATH",
                   help="merged scores.parquet of one run per dataset")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_figures)

    s = sub.add_parser("ablation-table", help="Table 5, 8 or 9 from the ablation runs' metrics")
    s.add_argument("--table", required=True, choices=["table5", "table8", "table9"])
    s.add_argument("--config", required=True, help="the workflow config (vkdnw and ablations) as JSON")
    s.add_argument("--metrics", nargs="+", required=True, metavar="SETTING=PATH",
                   help="each ablation run's metrics.parquet with its setting id")
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
    s.add_argument("--scores", nargs="+", required=True, metavar="DATASET=PATH", help="merged scores.parquet of the runs")
    s.add_argument("--nonfinite", choices=["lowest", "drop"], default="lowest",
                   help="NaN and -inf scores: last, as the rankings put them, or left out")
    s.add_argument("--out-csv", required=True)
    s.add_argument("--out-md", required=True)
    s.set_defaults(func=cmd_table4)

    s = sub.add_parser("archive", help="pack a results tree and its provenance manifest into a tarball")
    s.add_argument("--root", required=True)
    s.add_argument("--config", default="{}", help="resolved config as JSON")
    s.add_argument("--benchmark", default=None)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_archive)

    s = sub.add_parser("manifest", help="write a provenance manifest for a results directory")
    s.add_argument("--config", required=True)
    s.add_argument("--inputs", nargs="*", default=[], help="files to checksum")
    s.add_argument("--runs", nargs="*", default=[], metavar="RUN=PATH",
                   help="each run's merged scores, e.g. cifar10/seed1=.../scores.parquet (scoring seconds)")
    s.add_argument("--benchmark", help="the ingested benchmark.parquet (the ground truth's source)")
    s.add_argument("--benchmarks", nargs="*", default=[], help="Snakemake benchmark files (job wall time)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_manifest)
