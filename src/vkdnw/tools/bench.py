"""``vkdnw bench MODE``: the fast Fisher path against the authors' algorithm, same nets, one run.

For each dataset setting, draws ``n_archs`` unique archs with a fixed seed, builds each net
exactly as scoring does, and times :func:`fisher` and :func:`fisher_reference` back to back.
Reports seconds per net for both, the geometric-mean ratio, and the largest relative
difference of F (a speed-up that changed the numbers would be worthless). The authors ran
their algorithm in float32, so that is the default yardstick; ``--reference-dtype float64``
times it at the fast path's precision instead.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from vkdnw.proxies.common import fresh_net, random_input
from vkdnw.proxies.registry import NetContext
from vkdnw.proxies.fisher import fisher
from vkdnw.proxies.vkdnw_reference import fisher_reference
from vkdnw.plan import select_archs
from vkdnw.stages.scoring import scoring_device
from vkdnw.spaces.nb201 import aleph, dataset_info


def _report(df: pd.DataFrame, summary: pd.DataFrame, out: str | None) -> pd.DataFrame:
    """Print a bench's summary and keep its per-net rows (``out``) for the results."""
    print(summary.to_string(float_format=lambda v: f"{v:.3g}"))
    if out:
        df.to_csv(out, index=False)
    return summary


def _sync(device: torch.device) -> None:
    # CUDA kernels run asynchronously: a timer must wait for them.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, *args, device: torch.device = torch.device("cpu")) -> tuple[torch.Tensor | None, float]:
    _sync(device)
    t0 = time.perf_counter()
    try:
        out = fn(*args)
        _sync(device)
    except (RuntimeError, MemoryError) as exc:  # the reference runs out of memory on dense nets
        print(f"    reference failed: {type(exc).__name__}: {str(exc)[:120]}")
        return None, float("nan")
    return out, time.perf_counter() - t0


def _bench_archs(mode: str, n_archs: int, seed: int, batch_size: int | str, threads: int) -> list[str]:
    """The same ``n_archs`` unique archs for every bench mode (seeded), at ``threads`` threads."""
    torch.set_num_threads(threads)
    print(f"vkdnw bench {mode}: {n_archs} unique archs (seed {seed}), batch {batch_size}, {threads} threads, "
          f"torch {torch.__version__}")
    return random.Random(seed).sample(select_archs("unique"), n_archs)


def bench_dataset(dataset: str, archs: list[str], batch_size: int,
                  reference_dtype: torch.dtype = torch.float32, device: str = "cpu",
                  sweeps: str = "auto") -> pd.DataFrame:
    info = dataset_info(dataset)
    dev = scoring_device(device)
    rows = []

    def fast(n, v):
        return fisher(n, v, sweeps=sweeps)

    def reference(n, v):
        return fisher_reference(n, v, dtype=reference_dtype)

    for k, arch in enumerate(archs):
        ctx = NetContext(arch, dataset, 1, info["num_classes"], info["resolution"], {}, dev)
        net, x = fresh_net(ctx), random_input(ctx, batch_size)
        if k == 0 and dev.type == "cuda":  # CUDA's first calls load kernels and plan convolutions
            _timed(fast, net, x, device=dev)
            _timed(reference, net, x, device=dev)
        F_fast, t_fast = _timed(fast, net, x, device=dev)
        F_ref, t_ref = _timed(reference, net, x, device=dev)
        rel = float("nan")
        if F_ref is not None:
            rel = float((F_fast - F_ref.double()).abs().max() / F_ref.double().abs().max())
        rows.append({"dataset": dataset, "arch_str": arch, "aleph": aleph(arch), "device": str(dev),
                     "sweeps": sweeps, "fast_s": t_fast, "reference_s": t_ref, "ratio": t_ref / t_fast,
                     "max_rel_diff": rel})
        print(f"  {dataset} aleph={aleph(arch):3d} fast {t_fast:7.2f}s  reference {t_ref:7.2f}s  "
              f"ratio {t_ref / t_fast:6.1f}x  rel.diff {rel:.1e}", flush=True)
    return pd.DataFrame(rows)


def geomean(x: pd.Series) -> float:
    """Geometric mean of speed ratios (NaN where a reference run failed is left out)."""
    x = x.dropna()
    return math.exp(x.map(math.log).mean()) if len(x) else float("nan")


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby("dataset", sort=False)
    return pd.DataFrame({
        "nets": g.size(),
        "fast_s_per_net": g["fast_s"].mean(),
        "reference_s_per_net": g["reference_s"].mean(),
        "geomean_ratio": g["ratio"].agg(geomean),
        "min_ratio": g["ratio"].min(),
        "max_rel_diff": g["max_rel_diff"].max(),
    })


def run_bench(*, datasets: list[str], n_archs: int, seed: int, batch_size: int, threads: int,
              out: str | None = None, reference_dtype: str = "float32", device: str = "cpu",
              sweeps: str = "auto") -> pd.DataFrame:
    archs = _bench_archs("fisher", n_archs, seed, batch_size, threads)
    print(f"reference algorithm in {reference_dtype}, fast path in float64 ({sweeps} sweeps), on {device}")
    dt = getattr(torch, reference_dtype)
    df = pd.concat([bench_dataset(ds, archs, batch_size, dt, device, sweeps) for ds in datasets],
                   ignore_index=True)
    summary = summarize(df)
    return _report(df, summary, out)


def bench_proxies(*, proxies: list[str], datasets: list[str], n_archs: int, seed: int, batch_size: int,
                  threads: int, out: str | None = None, dtypes: tuple[str, ...] = ("float32",),
                  device: str = "cpu", config: dict | None = None) -> pd.DataFrame:
    """Median (and max) seconds per net of each proxy group on the same unique archs.

    Each net is scored exactly as a scoring job scores it (random input at ``batch_size``), so
    the medians predict a block's cost: nets x median / cores. With several ``dtypes`` (groups
    with a float64 path), each net is timed in each precision back to back, and the summary
    adds each precision's median per-net time ratio to the first and the largest relative
    difference of its score (the group's own column) from the first's. ``device`` (``cuda``)
    times a GPU as a scoring job with ``device: cuda`` runs there; the proxies end in Python
    floats, so each net's time includes its kernels. The first net also pays CUDA's start-up,
    which the median leaves out. ``config`` (a resolved workflow config) times each group on
    each dataset with the settings that run's scoring jobs get (its batch sizes, precisions and
    image folders) instead of ``batch_size`` and ``dtypes``.
    """
    from vkdnw.proxies.registry import get_proxy
    from vkdnw.stages.scoring import score_net
    from vkdnw.plan import proxy_settings, zero_cost_entry

    def job_settings(proxy: str, ds: str, dtype: str) -> dict:
        return proxy_settings(config, proxy, ds) if config else {proxy: zero_cost_entry(batch_size, None, dtype)}

    no_float64 = [p for p in proxies if not get_proxy(p).float64]
    if set(dtypes) != {"float32"} and no_float64:  # they would silently time float32 twice
        raise ValueError(f"--dtypes float64: {no_float64} have no float64 path (zico and grasp do)")
    archs = _bench_archs("proxies", n_archs, seed, "of the config" if config else batch_size, threads)
    dev = scoring_device(device)
    rows = []
    for ds in datasets:
        info = dataset_info(ds)
        for proxy in proxies:
            for arch in archs:
                for dtype in dtypes:
                    settings = job_settings(proxy, ds, dtype)
                    ctx = NetContext(arch, ds, seed, info["num_classes"], info["resolution"], settings, dev)
                    r = score_net(proxy, ctx)
                    rows.append({"proxy": proxy, "dataset": ds, "dtype": settings.get(proxy, {}).get("dtype", dtype), "device": r["device"],
                                 "arch_str": arch, "aleph": aleph(arch), "seconds": r["seconds"], "error": r["error"],
                                 "value": r.get(proxy, float("nan"))})
            for dtype in dtypes:
                last = [x["seconds"] for x in rows[-len(archs) * len(dtypes):] if len(dtypes) == 1 or x["dtype"] == dtype]
                print(f"  {ds:15s} {proxy:9s} {dtype} median {statistics.median(last):7.3f}s  max {max(last):7.3f}s",
                      flush=True)
    df = pd.DataFrame(rows)
    keys = ["proxy", "dataset", "dtype"] if len(dtypes) > 1 else ["proxy", "dataset"]
    summary = df.groupby(keys, sort=False)["seconds"].agg(["median", "max", "size"])
    summary["hours_for_9445"] = summary["median"] * 9445 / 3600
    if len(dtypes) > 1:
        # Per net, one column per precision; each compared with the first precision's.
        wide = df.set_index(["proxy", "dataset", "arch_str", "dtype"])[["seconds", "value"]].unstack("dtype")
        first = wide.xs(dtypes[0], axis=1, level="dtype")
        ratio = wide["seconds"].div(first["seconds"], axis=0)
        rel = wide["value"].sub(first["value"], axis=0).abs().div(first["value"].abs(), axis=0)
        for name, per_net, how in [("median_ratio", ratio, "median"), ("max_rel_diff", rel, "max")]:
            by_group = per_net.groupby(["proxy", "dataset"], sort=False).agg(how)
            summary[name] = by_group.stack().reorder_levels(keys).reindex(summary.index)
    return _report(df, summary, out)


def _proxy_nets(proxy: str, datasets: list[str], archs: list[str], seed: int,
                batch_size: int) -> Iterator[tuple[str, str, torch.nn.Module, torch.Tensor]]:
    """(dataset, arch, fresh train-mode net, the proxy's noise batch) for each pair: what
    the back-to-back path comparisons time both paths on."""
    from vkdnw.proxies.zc import batches

    for ds in datasets:
        info = dataset_info(ds)
        for arch in archs:
            ctx = NetContext(arch, ds, seed, info["num_classes"], info["resolution"],
                             {proxy: {"batch_size": batch_size, "data": None}})
            yield ds, arch, fresh_net(ctx).train(), batches(ctx, proxy)[0].x


def bench_ntk(*, datasets: list[str], n_archs: int, seed: int, batch_size: int, threads: int,
              out: str | None = None) -> pd.DataFrame:
    """TE-NAS's NTK Jacobian: B backward calls (the scoring path) against one vmapped backward
    (``is_grads_batched``), back to back on the same net and batch; also the condition numbers'
    largest relative difference, so a faster path that changed the score would show."""
    from vkdnw.proxies import tenas

    archs = _bench_archs("ntk", n_archs, seed, batch_size, threads)
    rows = []
    for ds, arch, net, x in _proxy_nets("tenas", datasets, archs, seed, batch_size):
        jac_loop, t_loop = _timed(tenas.ntk_jacobian, net, x)
        jac_vmap, t_vmap = _timed(tenas.ntk_jacobian_batched, net, x)
        c_loop, c_vmap = tenas.ntk_condition(jac_loop), tenas.ntk_condition(jac_vmap)
        rows.append({"dataset": ds, "arch_str": arch, "aleph": aleph(arch), "loop_s": t_loop,
                     "batched_s": t_vmap, "ratio": t_vmap / t_loop,
                     "cond_rel_diff": abs(c_loop - c_vmap) / abs(c_vmap)})
        print(f"  {ds} aleph={aleph(arch):3d} loop {t_loop:6.2f}s  batched {t_vmap:6.2f}s  "
              f"ratio {t_vmap / t_loop:4.2f}x  cond rel.diff {rows[-1]['cond_rel_diff']:.1e}", flush=True)
    df = pd.DataFrame(rows)
    g = df.groupby("dataset", sort=False)
    summary = pd.DataFrame({"nets": g.size(), "loop_s_median": g["loop_s"].median(),
                            "batched_s_median": g["batched_s"].median(),
                            "geomean_ratio": g["ratio"].agg(geomean),
                            "max_cond_rel_diff": g["cond_rel_diff"].max()})
    return _report(df, summary, out)


def bench_naswot_kernel(*, datasets: list[str], n_archs: int, seed: int, batch_size: int, threads: int,
                        out: str | None = None) -> pd.DataFrame:
    """NASWOT's whole score (forward pass and code kernels) with the two-matmul float64
    definition against the one-matmul float32 kernel, back to back on the same net and batch;
    also whether the two log-determinants are bit-identical, as the integer kernel implies."""
    from vkdnw.proxies import naswot

    archs = _bench_archs("naswot-kernel", n_archs, seed, batch_size, threads)
    rows = []
    for ds, arch, net, x in _proxy_nets("naswot", datasets, archs, seed, batch_size):
        ref, t_ref = _timed(naswot.naswot_logdet, net, x, naswot.code_kernel_reference)
        fast, t_fast = _timed(naswot.naswot_logdet, net, x, naswot.code_kernel)
        rows.append({"dataset": ds, "arch_str": arch, "aleph": aleph(arch), "reference_s": t_ref,
                     "fast_s": t_fast, "ratio": t_fast / t_ref, "identical": ref == fast})
        print(f"  {ds} aleph={aleph(arch):3d} two matmuls {t_ref:5.2f}s  one {t_fast:5.2f}s  "
              f"ratio {t_fast / t_ref:4.2f}x  identical {ref == fast}", flush=True)
    df = pd.DataFrame(rows)
    g = df.groupby("dataset", sort=False)
    summary = pd.DataFrame({"nets": g.size(), "reference_s_median": g["reference_s"].median(),
                            "fast_s_median": g["fast_s"].median(), "geomean_ratio": g["ratio"].agg(geomean),
                            "all_identical": g["identical"].all()})
    return _report(df, summary, out)


def _sweep_seconds(net: torch.nn.Module, x: torch.Tensor, repeats: int = 3) -> tuple[int, float]:
    """The fast path's unit of work: one reverse sweep from the pooled features (or the
    logits, whichever side of the head is narrower) to the input, float64, channels-last,
    activation gradients only. Returns (sweeps the fast path needs, seconds per sweep)."""
    import copy

    from vkdnw.proxies.fisher import classifier_head

    net = copy.deepcopy(net).double().eval().to(memory_format=torch.channels_last)
    net.requires_grad_(False)
    x = x.detach().double().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    head = classifier_head(net)
    feats = net.features(x)
    n_sweeps = min(head.weight.shape)
    cot = torch.ones_like(feats)
    t0 = time.perf_counter()
    for _ in range(repeats):
        torch.autograd.grad(feats, x, grad_outputs=cot, retain_graph=True)
    return n_sweeps, (time.perf_counter() - t0) / repeats


def run_roofline(*, datasets: list[str], n_archs: int, seed: int, batch_size: int, threads: int,
                 out: str | None = None) -> pd.DataFrame:
    """How close the fast path is to its own floor: min(C, 64) float64 reverse sweeps. The
    ratio to the authors' algorithm can be no larger than reference / floor, whatever the
    implementation of the sweeps, so this says where a speed-up target is out of reach."""
    archs = _bench_archs("roofline", n_archs, seed, batch_size, threads)
    rows = []
    for ds in datasets:
        info = dataset_info(ds)
        for arch in archs:
            ctx = NetContext(arch, ds, 1, info["num_classes"], info["resolution"], {})
            net, x = fresh_net(ctx), random_input(ctx, batch_size)
            _, t_fast = _timed(fisher, net, x)
            n, t_sweep = _sweep_seconds(net, x)
            rows.append({"dataset": ds, "arch_str": arch, "aleph": aleph(arch), "fast_s": t_fast,
                         "sweeps": n, "sweep_s": t_sweep, "floor_s": n * t_sweep,
                         "fast_over_floor": t_fast / (n * t_sweep)})
            r = rows[-1]
            print(f"  {ds} aleph={r['aleph']:3d} fast {t_fast:7.2f}s  {n} sweeps x {t_sweep:6.3f}s = "
                  f"{r['floor_s']:7.2f}s  fast/floor {r['fast_over_floor']:.2f}", flush=True)
    df = pd.DataFrame(rows)
    g = df.groupby("dataset", sort=False)
    summary = pd.DataFrame({"nets": g.size(), "fast_s_per_net": g["fast_s"].mean(),
                            "floor_s_per_net": g["floor_s"].mean(),
                            "fast_over_floor": g["fast_over_floor"].median()})
    return _report(df, summary, out)


def bench_mbv2(*, iterations: int, batch_size: int, resolution: int, num_classes: int, threads: int,
               device: str = "cpu", n_jacobian: int = 3, out: str | None = None) -> pd.DataFrame:
    """Candidates per second of the MBV2 evolutionary search (``iterations`` candidates from
    the initial net, in a throw-away log), then forward- against reverse-mode VKDNW Jacobians
    on the first ``n_jacobian`` distinct candidates, in the same run."""
    import tempfile
    from pathlib import Path

    from vkdnw.mbv2.evolution import SearchSettings, run_search
    from vkdnw.mbv2.score import ScoreSettings, fresh_net as mbv2_net, noise, vkdnw_components

    torch.set_num_threads(threads)
    score = ScoreSettings(resolution=resolution, batch_size=batch_size, num_classes=num_classes, device=device)
    s = SearchSettings(iterations=iterations, score=score)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        log = run_search(s, Path(tmp))
        wall = time.perf_counter() - t0
    scored = log[log["seconds"] > 0]
    print(f"mbv2 search, {iterations} candidates at {resolution} px, batch {batch_size}, {num_classes} classes, "
          f"{threads} thread(s), {device}: {iterations / wall:.3f} candidates/s "
          f"(median {statistics.median(scored['seconds']):.2f} s per scored candidate)")
    rows = []
    for structure in scored["structure"].drop_duplicates().head(n_jacobian):
        net, x = mbv2_net(structure, s.seed, score), noise(structure, s.seed, score)
        times = {}
        for mode in ("forward", "reverse"):
            t = time.perf_counter()
            v = vkdnw_components(net, x, score.n_tensors, mode)["vkdnw"]
            times[mode] = (time.perf_counter() - t, v)
        rows.append({"structure": structure, "forward_s": times["forward"][0], "reverse_s": times["reverse"][0],
                     "speedup": times["reverse"][0] / times["forward"][0],
                     "abs_diff": abs(times["forward"][1] - times["reverse"][1])})
    df = pd.DataFrame(rows)
    if len(df):
        gm = math.exp(statistics.fmean(math.log(v) for v in df["speedup"]))
        print(f"VKDNW Jacobian, forward vs reverse mode on {len(df)} candidates: geomean speed-up {gm:.2f}x, "
              f"max |diff| {df['abs_diff'].max():.2e}")
    if out:
        log.assign(bench_wall_seconds=wall).to_csv(out, index=False)
        if len(df):
            df.to_csv(str(out).removesuffix(".csv") + "_jacobian.csv", index=False)
    return df


def bench_search_aggregate(*, sizes: list[int], population: int = 1024, n_columns: int = 5, repeats: int = 5,
                           seed: int = 0, out: str | None = None) -> pd.DataFrame:
    """Seconds per search iteration spent choosing parents at ``sizes`` scored candidates: a
    full re-rank (:func:`aggregate` plus a stable argsort) against the running update
    (:class:`RunningAggregate` plus :func:`top_stable`), on the same random scores, with a
    check that both pick the same top ``population - 1``."""
    from scipy.integrate import trapezoid

    from vkdnw.mbv2.evolution import RunningAggregate, aggregate, top_stable

    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        vals = rng.standard_normal((n + repeats, n_columns))
        running = RunningAggregate(n + repeats, n_columns, vals[:n])
        t_full = t_run = 0.0
        for r in range(repeats):
            t0 = time.perf_counter()
            full_top = np.argsort(aggregate(vals[:n + r + 1]), kind="stable")[-(population - 1):]
            t1 = time.perf_counter()
            running.add(vals[n + r])
            run_top = top_stable(running.aggregate(), population - 1)
            t2 = time.perf_counter()
            t_full, t_run = t_full + t1 - t0, t_run + t2 - t1
            if not np.array_equal(full_top, run_top):
                raise AssertionError(f"running aggregate picked other parents at n={n + r + 1}")
        rows.append({"n": n, "full_s": t_full / repeats, "running_s": t_run / repeats,
                     "ratio": t_full / t_run})
        print(f"  n={n:7d}  full {rows[-1]['full_s'] * 1e3:8.2f} ms  running {rows[-1]['running_s'] * 1e3:7.2f} ms  "
              f"{rows[-1]['ratio']:5.1f}x", flush=True)
    df = pd.DataFrame(rows)
    # The iterations from min(sizes) to max(sizes) of one search: per-iteration costs integrated.
    total = pd.DataFrame({"full_s": [trapezoid(df["full_s"], df["n"])],
                          "running_s": [trapezoid(df["running_s"], df["n"])]},
                         index=[f"iterations {min(sizes)}..{max(sizes)}"])
    total["ratio"] = total["full_s"] / total["running_s"]
    return _report(df, total, out)

