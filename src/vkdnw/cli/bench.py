"""``vkdnw bench MODE``: speed measurements, each mode timing two ways of the same work on the
same nets in one run (speed claims are ratios measured side by side, never timed assertions)."""

from __future__ import annotations

import argparse

DATASETS = ["cifar10", "cifar100", "ImageNet16-120"]


def _nets(s: argparse.ArgumentParser, *, threads: int = 2) -> argparse.ArgumentParser:
    """The flags of every NB201 mode: which nets, at which batch, on how many threads."""
    s.add_argument("--dataset", nargs="+", default=DATASETS, help="NB201 datasets (each gets its own nets)")
    s.add_argument("--n-archs", type=int, default=20, help="unique nets drawn per dataset")
    s.add_argument("--seed", type=int, default=0, help="seed of the draw")
    s.add_argument("--batch-size", type=int, default=64, help="images per net")
    s.add_argument("--threads", type=int, default=threads, help="CPU threads of torch")
    s.add_argument("--out", help="also write the per-net timings as CSV")
    return s


def cmd_fisher(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import run_bench

    run_bench(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size, threads=a.threads,
              out=a.out, reference_dtype=a.reference_dtype, device=a.device, sweeps=a.sweeps)


def cmd_roofline(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import run_roofline

    run_roofline(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size,
                 threads=a.threads, out=a.out)


def cmd_proxies(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import bench_proxies

    from vkdnw.config import load_config

    if a.config and (a.batch_size is not None or a.dtypes != ["float32"]):
        raise SystemExit("vkdnw bench proxies: --config gives each group its batch and precision; drop "
                         "--batch-size/--dtypes")
    bench_proxies(proxies=a.proxies, datasets=a.dataset, n_archs=a.n_archs, seed=a.seed,
                  batch_size=64 if a.batch_size is None else a.batch_size, threads=a.threads, out=a.out,
                  dtypes=tuple(a.dtypes), device=a.device, config=load_config(a.config) if a.config else None)


def cmd_naswot_kernel(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import bench_naswot_kernel

    bench_naswot_kernel(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size,
                        threads=a.threads, out=a.out)


def cmd_ntk(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import bench_ntk

    bench_ntk(datasets=a.dataset, n_archs=a.n_archs, seed=a.seed, batch_size=a.batch_size,
              threads=a.threads, out=a.out)


def cmd_search_aggregate(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import bench_search_aggregate

    bench_search_aggregate(sizes=a.sizes, seed=a.seed, out=a.out)


def cmd_mbv2(a: argparse.Namespace) -> None:
    from vkdnw.tools.bench import bench_mbv2

    bench_mbv2(iterations=a.n_archs, batch_size=a.batch_size, resolution=a.resolution, num_classes=a.num_classes,
               threads=a.threads, device=a.device, n_jacobian=a.n_jacobian, out=a.out)


def add_commands(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="speed measurements, two ways of the same work on the same nets "
                                         "(modes: fisher, roofline, proxies, naswot-kernel, ntk, "
                                         "search-aggregate, mbv2)")
    modes = bench.add_subparsers(dest="mode", required=True, metavar="MODE")

    s = _nets(modes.add_parser("fisher", help="the fast Fisher path against the authors' vmap(jacrev) algorithm"))
    s.add_argument("--reference-dtype", default="float32", choices=["float32", "float64"],
                   help="precision of the authors' algorithm")
    s.add_argument("--device", default="cpu", help="cuda times a GPU (synchronised, after a warm-up)")
    s.add_argument("--sweeps", default="auto", choices=["auto", "sequential", "batched"],
                   help="the fast path's reverse sweeps: one after another (CPU), as batch replicas (GPU)")
    s.set_defaults(func=cmd_fisher)

    s = _nets(modes.add_parser("roofline", help="the fast path against its floor of min(C, 64) float64 "
                                                "reverse sweeps"))
    s.set_defaults(func=cmd_roofline)

    s = _nets(modes.add_parser("proxies", help="median seconds per net of proxy groups"))
    s.add_argument("proxies", nargs="+", help="proxy groups, e.g. vkdnw aznas")
    s.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "float64"],
                   help="time each net in each precision (zico, grasp), back to back")
    s.add_argument("--device", default="cpu", help="cuda times a GPU")
    s.add_argument("--config", help="a workflow config (resolved over config.yaml as Snakemake does): time each "
                   "group with the settings its scoring jobs get on each dataset")
    s.set_defaults(func=cmd_proxies, batch_size=None)  # None: 64, or the config's

    s = _nets(modes.add_parser("naswot-kernel", help="NASWOT's two-matmul float64 code kernel against the "
                                                     "one-matmul float32 one"))
    s.set_defaults(func=cmd_naswot_kernel)

    s = _nets(modes.add_parser("ntk", help="TE-NAS's NTK Jacobian: per-sample backward calls against one "
                                           "vmapped backward"))
    s.set_defaults(func=cmd_ntk)

    s = modes.add_parser("search-aggregate", help="seconds per MBV2 search iteration to choose parents among N "
                                                  "scored candidates: full re-rank against the running update")
    s.add_argument("sizes", type=int, nargs="+", metavar="N", help="numbers of scored candidates")
    s.add_argument("--seed", type=int, default=0, help="seed of the synthetic scores")
    s.add_argument("--out", help="also write the timings as CSV")
    s.set_defaults(func=cmd_search_aggregate)

    s = modes.add_parser("mbv2", help="candidates per second of the MBV2 evolutionary search, and forward- "
                                      "against reverse-mode VKDNW Jacobians")
    s.add_argument("--n-archs", type=int, default=20, help="search iterations")
    s.add_argument("--batch-size", type=int, default=64, help="images per candidate")
    s.add_argument("--resolution", type=int, default=224, help="input size")
    s.add_argument("--num-classes", type=int, default=1000, help="classifier width")
    s.add_argument("--threads", type=int, default=2, help="CPU threads of torch")
    s.add_argument("--device", default="cpu", help="cuda times a GPU")
    s.add_argument("--n-jacobian", type=int, default=3, help="candidates on which both Jacobians are timed")
    s.add_argument("--out", help="also write the search log of the timed candidates as CSV")
    s.set_defaults(func=cmd_mbv2)
