"""End-to-end Snakemake runs on the tiny config, and dry-run invalidation checks."""

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BENCHMARK_ENV, PRESET_CONFIGS, REPO
from vkdnw.plan import select_archs

pytestmark = pytest.mark.workflow
TIMEOUT = 1200


def _snakemake(workdir: Path, *args: str, env: dict | None = None) -> str:
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args,
           "--configfile", str(workdir / "config.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc.stdout + proc.stderr


def _planned(workdir: Path, *args: str, env: dict | None = None) -> dict[str, int]:
    """Jobs a dry run would execute, per rule."""
    out = _snakemake(workdir, *args, "-n", "--quiet", "rules", env=env)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", out, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    cfg = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    cfg["results"] = "results"
    real = os.environ.get(BENCHMARK_ENV)
    if real and Path(real).is_file():
        cfg["benchmark"] = real
    else:
        # Plumbing only: synthetic accuracies for the sampled nets (no ground truth claimed).
        archs = select_archs(cfg["subset"], cfg["n_archs"], cfg["sample_seed"])
        rng = np.random.default_rng(0)
        pd.DataFrame({"arch_str": archs, **{f"test_acc_{d}": rng.uniform(10, 95, len(archs)) for d in
                                            ("cifar10", "cifar100", "ImageNet16-120")}}).to_csv(work / "bench.csv")
        cfg["benchmark"] = str(work / "bench.csv")
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    _snakemake(work, "--cores", "2")
    return work, cfg


def test_outputs_follow_the_umask(tiny_run):
    # The run made its files under the test process's umask; a cluster user's colleagues must
    # be able to read them (a temp-file-and-rename write would otherwise leave 0600).
    work, cfg = tiny_run
    mask = os.umask(0)
    os.umask(mask)
    table = work / "results/nb201/tables/table1.csv"
    assert table.stat().st_mode & 0o777 == 0o666 & ~mask
    assert (work / "results/nb201/cifar10/seed1/scores.parquet").stat().st_mode & 0o777 == 0o666 & ~mask


def test_outputs(tiny_run):
    work, cfg = tiny_run
    nb = work / "results/nb201"
    for ds in cfg["datasets"]:
        for seed in cfg["seeds"]:
            scores = pd.read_parquet(nb / f"{ds}/seed{seed}/scores.parquet")
            assert len(scores) == cfg["n_archs"] and scores["vkdnw"].notna().all()
            assert {"params", "flops", "aleph", "seconds_vkdnw", "error_vkdnw"} <= set(scores.columns)
    table = pd.read_csv(nb / "tables/table1.csv", dtype={"batch_size": str})
    assert set(table["method"]) >= {"VKDNW_single", "aleph", "FLOPs", "params", "Jacov", "AZ-NAS", "TE-NAS",
                                    "VKDNW_agg"}
    assert set(table["dataset"]) == set(cfg["datasets"])
    assert (table["n_seeds"] == len(cfg["seeds"])).all()
    assert (table.loc[table["type"] == "S", "n_nets"] == cfg["n_archs"]).all()
    by = table.groupby("method").first()
    assert by.loc["VKDNW_single", ["type", "input", "batch_size"]].tolist() == ["S", "random", "2"]
    assert by.loc["VKDNW_agg", ["type", "input", "batch_size"]].tolist() == ["A", "random", "2+4"]
    assert by.loc["Jacov", ["type", "batch_size"]].tolist() == ["S", "4"]
    assert by.loc["AZ-NAS", "type"] == "A" and by.loc["FLOPs", "input"] == "-"
    assert "VKDNW_single" in (nb / "tables/table1.md").read_text()
    assert {"GRAF", "VKDNW_m", "(VKDNW+ZCS)_m", "(VKDNW+ZCS+GRAF)_m"} <= set(table["method"])
    # Model rows say what fed them: noise into VKDNW (batch 2) and the zero-cost groups (batch 4).
    assert by.loc["(VKDNW+ZCS)_m", ["input", "batch_size"]].tolist() == ["random", "2+4"]
    assert by.loc["GRAF", ["input", "batch_size"]].tolist() == ["-", "-"]
    assert (table.loc[table["method"] == "GRAF", "n_nets"] == cfg["n_archs"] - cfg["model_driven"]["n_train"]).all()
    t10 = pd.read_csv(nb / "tables/table10.csv")
    assert (t10.groupby("dataset").size() == 31).all() and "V+J+E+T+F" in set(t10["method"])
    # The full subset V+J+E+T+F is VKDNW_agg itself.
    full = t10[t10["method"] == "V+J+E+T+F"].set_index("dataset")["kt"]
    np.testing.assert_allclose(full.sort_index(), table[table["method"] == "VKDNW_agg"].set_index("dataset")["kt"].sort_index())
    for n in (3, 4):
        for ds in cfg["datasets"]:
            assert (nb / f"figures/figure{n}_{ds}.png").stat().st_size > 1000
    t7 = pd.read_csv(nb / "tables/table7.csv")
    np.testing.assert_allclose(t7.set_index(["method", "dataset"])["top1"].sort_index(),
                               table.set_index(["method", "dataset"])["top1"].sort_index())
    # This run scores a sample of the nets: its best net is not the space's, so no paper value.
    assert cfg["n_archs"] < 9445 and t7["paper_top1"].isna().all()
    for name in ["figure2"] + [f"{k}_{d}" for k in ("figure1", "rank_accuracy") for d in cfg["datasets"]]:
        assert (nb / f"figures/{name}.png").stat().st_size > 1000 and (nb / f"figures/{name}.svg").exists()
    sig = pd.read_csv(nb / "tables/significance.csv")
    assert set(sig["kind"]) == {"vs_random", "paired_bootstrap"}
    assert sig.loc[sig["kind"] == "vs_random", "p_kt"].between(0.0099, 1).all()  # >= 1 / (1 + n_perm)
    assert {("VKDNW_agg", "AZ-NAS")} <= set(zip(sig["method"], sig["versus"]))
    t4 = pd.read_csv(nb / "tables/table4.csv")
    assert set(t4["component"]) == {"VKDNW", "trainability", "expressivity", "progressivity"}
    assert set(cfg["datasets"]) <= set(t4.columns)
    manifest = yaml.safe_load((nb / "manifest.yaml").read_text())
    assert manifest["config"]["n_archs"] == cfg["n_archs"] and manifest["versions"]["torch"]
    # The ground truth the tables came from, by content (a path alone can change under them).
    from vkdnw.io import sha256_file

    assert manifest["benchmark"] == {"path": str(Path(cfg["benchmark"]).resolve()),
                                     "sha256": sha256_file(cfg["benchmark"])}
    assert not list(work.rglob("*.tmp")) and not list(work.rglob("*.partial.parquet"))


def test_scores_are_recomputable(tiny_run):
    work, cfg = tiny_run
    scores = pd.read_parquet(work / "results/nb201/cifar10/seed2/scores.parquet").iloc[:2]
    out = subprocess.run(["vkdnw", "rescore", "--proxy", "vkdnw", "--dataset", "cifar10", "--seed", "2",
                          "--config", str(work / "config.yaml"), *scores["arch_str"]],
                         capture_output=True, text=True, check=True, timeout=TIMEOUT).stdout
    again = pd.read_json(io.StringIO(out), lines=True)
    np.testing.assert_allclose(again["vkdnw"], scores["vkdnw"], rtol=1e-4)
    np.testing.assert_allclose(again["vkdnw_lambda_9"], scores["vkdnw_lambda_9"], rtol=1e-4)


def _with_config(work: Path, cfg: dict, **changes) -> None:
    new = {**cfg, **changes}
    (work / "config.yaml").write_text(yaml.safe_dump(new))


def test_nothing_to_do_after_run(tiny_run):
    work, _ = tiny_run
    assert _planned(work) == {}


def test_metrics_setting_reruns_no_scoring(tiny_run):
    work, cfg = tiny_run
    try:
        _with_config(work, cfg, metrics={"ndcg_k": 3})
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    assert "score_block" not in planned and "merge_scores" not in planned and "rank_nets" not in planned
    assert planned["evaluate_run"] == len(cfg["datasets"]) * len(cfg["seeds"])


def _n_blocks(cfg) -> int:
    return -(-cfg["n_archs"] // cfg["block_size"])


def test_shard_size_reruns_nothing(tiny_run):
    """A shard is the bundle of blocks one cluster allocation scores (a job group): scheduling
    only. Bundling 1 or 3 blocks per job, as the SLURM profile's group-components does, plans
    no job; the profile itself is dry-run here too (its executor is not contacted by -n)."""
    work, _ = tiny_run
    for n in (1, 3):
        assert _planned(work, "--groups", "score_block=scoring", "--group-components", f"scoring={n}") == {}
    assert _planned(work, "--profile", str(REPO / "slurm"), "--group-components", "scoring=2") == {}


def test_block_size_is_the_layout_and_rescores(tiny_run):
    work, cfg = tiny_run
    try:
        _with_config(work, cfg, block_size=2)
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    n_runs = len(cfg["datasets"]) * len(cfg["seeds"])
    assert planned["score_block"] == n_runs * len(cfg["proxies"]) * -(-cfg["n_archs"] // 2)
    assert planned["merge_scores"] == n_runs


def test_vkdnw_setting_reruns_only_vkdnw_blocks(tiny_run):
    work, cfg = tiny_run
    try:
        settings = cfg["settings"]
        _with_config(work, cfg, settings={**settings, "vkdnw": {**settings["vkdnw"], "n_tensors": 64}})
        out = _snakemake(work, "-n")
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    n_runs = len(cfg["datasets"]) * len(cfg["seeds"])
    assert planned["score_block"] == n_runs * _n_blocks(cfg)
    assert "proxy=size" not in out and "proxy=vkdnw" in out


def _rescored_proxies(out: str) -> set[str]:
    return set(re.findall(r"proxy=([\w-]+)", out))


def _add_code(text: str) -> str:
    """A refactor that keeps the numbers: new code, the same declared version."""
    return text + "\n_CODE_CHANGE = 1\n"


def _bump(text: str) -> str:
    """What a change that moves a group's numbers must come with."""
    assert text.count("version=1,") == 1
    return text.replace("version=1,", "version=2,")


@pytest.mark.parametrize("changed, edit, expected", [
    ("proxies/vkdnw.py", _add_code, set()),
    ("proxies/zc.py", _add_code, set()),  # shared by the zero-cost groups
    ("proxies/vkdnw.py", _bump, {"vkdnw"}),
    ("proxies/jacov.py", _bump, {"jacov"}),
])
def test_only_a_version_bump_reruns_a_groups_blocks(tiny_run, tmp_path, changed, edit, expected):
    work, cfg = tiny_run
    src = tmp_path / "src"
    shutil.copytree(REPO / "src/vkdnw", src / "vkdnw")
    path = src / "vkdnw" / changed
    edited = edit(path.read_text())
    assert edited != path.read_text()
    path.write_text(edited)
    env = {**os.environ, "PYTHONPATH": str(src)}
    planned = _planned(work, env=env)
    out = _snakemake(work, "-n", env=env)
    n_runs = len(cfg["datasets"]) * len(cfg["seeds"])
    assert planned.get("score_block", 0) == n_runs * _n_blocks(cfg) * len(expected)
    assert _rescored_proxies(out) == expected
    assert _planned(work) == {}  # the unchanged code still has nothing to do


def test_data_path_reruns_only_real_input_proxies_of_that_dataset(tiny_run, tmp_path):
    work, cfg = tiny_run
    try:
        _with_config(work, cfg, data={"cifar10": str(tmp_path)})
        out = _snakemake(work, "-n")
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    # The paper fed real images to Jacov and TE-NAS (of these); AZ-NAS and VKDNW take noise.
    assert _rescored_proxies(out) == {"jacov", "tenas"}
    assert planned["score_block"] == len(cfg["seeds"]) * _n_blocks(cfg) * 2
    assert set(re.findall(r"dataset=([\w-]+), seed=\d+, proxy=", out)) == {"cifar10"}


def test_surrogate_images_feed_only_the_image_proxies_of_datasets_without_a_folder(tiny_run, tmp_path):
    work, cfg = tiny_run
    try:
        _with_config(work, cfg, data={"cifar10": str(tmp_path)}, surrogate_data={"enabled": True, "n_images": 40})
        out = _snakemake(work, "-n")
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    # cifar10 has a folder: only ImageNet16-120 gets a surrogate, once, before its blocks.
    assert planned["surrogate_data"] == 1
    assert "nb201/data/surrogate/ImageNet16-120" in out and "surrogate/cifar10" not in out
    assert _rescored_proxies(out) == {"jacov", "tenas"}
    assert planned["score_block"] == len(cfg["datasets"]) * len(cfg["seeds"]) * _n_blocks(cfg) * 2


def test_surrogate_run_writes_its_images_and_says_so_in_the_rows(tmp_path):
    cfg = {**yaml.safe_load((REPO / "config/tiny.yaml").read_text()), "results": "results",
           "surrogate_data": {"enabled": True, "n_images": 40, "seed": 1}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    block = "results/nb201/ImageNet16-120/seed1/scores/jacov/block000.parquet"
    _snakemake(tmp_path, "--cores", "1", block)
    rows = pd.read_parquet(tmp_path / block)
    assert set(rows["input"]) == {"surrogate"} and rows["jacov"].notna().all()
    assert (tmp_path / "results/nb201/data/surrogate/ImageNet16-120/train_data_batch_10").is_file()
    # The CLI rescoring of a committed row reads the same folder and gives the same score.
    out = subprocess.run(["vkdnw", "rescore", "--proxy", "jacov", "--dataset", "ImageNet16-120", "--seed", "1",
                          "--config", str(tmp_path / "config.yaml"), rows["arch_str"].iloc[0]],
                         capture_output=True, text=True, check=True, timeout=TIMEOUT, cwd=tmp_path).stdout
    np.testing.assert_allclose(pd.read_json(io.StringIO(out), lines=True)["jacov"], rows["jacov"].iloc[:1], rtol=1e-6)


def test_compare_runs_matches_each_runs_metrics(tiny_run, tmp_path):
    from vkdnw.stages.metrics import compare_runs

    work, cfg = tiny_run
    nb = work / "results/nb201/cifar10"
    df = compare_runs(nb / "seed1", nb / "seed2", cfg["benchmark"], "cifar10").set_index("method")
    for side, seed in (("a", 1), ("b", 2)):
        m = pd.read_parquet(nb / f"seed{seed}/metrics.parquet")
        m = m[(m["table"] == "main") & (m["subset"] == "unique")].set_index("method")
        np.testing.assert_allclose(df[f"kt_{side}"], m.loc[df.index, "kt"], atol=1e-12)
        np.testing.assert_allclose(df[f"spr_{side}"], m.loc[df.index, "spr"], atol=1e-12)
    assert set(df["input_a"]) >= {"random", "-"} and df.loc["FLOPs", "kt_between"] == pytest.approx(1.0)
    assert df.loc["Jacov", "kt_between"] < 1.0  # another seed draws another noise batch
    same = compare_runs(nb / "seed1", nb / "seed1", cfg["benchmark"], "cifar10", ["Jacov"])
    assert same["d_kt"].item() == 0.0 and same["kt_between"].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not ranked in both"):
        compare_runs(nb / "seed1", nb / "seed2", cfg["benchmark"], "cifar10", ["GraSP"])


def _assert_config_rejected(tmp_path: Path, cfg: dict, named: str) -> None:
    """A dry run on ``cfg`` fails before any job, and its message names ``named``."""
    bad = Path(tempfile.mkdtemp(dir=tmp_path))
    (bad / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(bad), "-n"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0 and named in proc.stdout + proc.stderr


def test_invalid_config_names_the_key(tiny_run, tmp_path):
    work, cfg = tiny_run
    _assert_config_rejected(tmp_path, {**cfg, "block_size": 0}, "block_size")


def _dry_run(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n",
                           "--configfile", str(REPO / "config/tiny.yaml"), *args],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env)


def test_misspelled_top_level_key_costs_a_few_lines(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("benchmrk: null\n")
    proc = _dry_run(tmp_path, str(bad))
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0
    assert "'benchmrk' was unexpected" in out
    assert len(out.splitlines()) <= 10, out


def test_nested_config_override_takes_numbers(tmp_path):
    # Snakemake reads nested --config values as strings ('100'); they fit the schema once parsed.
    proc = _dry_run(tmp_path, "--config", 'model_driven={"n_train": 3}', 'settings={"vkdnw": {"position": "0.5"}}')
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = _dry_run(tmp_path, "--config", 'settings={"vkdnw": {"batch_size": "x"}}')
    assert proc.returncode != 0 and "settings/vkdnw/batch_size" in proc.stdout + proc.stderr
    # A key of the config's earlier shape: one line naming the key that replaced it.
    proc = _dry_run(tmp_path, "--config", 'vkdnw={"batch_size": 8}')
    assert proc.returncode != 0 and "config key 'vkdnw' was replaced: write settings: {vkdnw:" in proc.stdout + proc.stderr


def test_slurm_profile_keeps_its_defaults_with_an_account(tmp_path):
    """The documented command sets the account and partition through sbatch's variables, so
    every job keeps the profile's runtime, memory and CPUs (a --default-resources on the command
    line would replace them all)."""
    env = {**os.environ, "SBATCH_ACCOUNT": "acct42", "SBATCH_PARTITION": "part7"}
    proc = _dry_run(tmp_path, "--profile", str(REPO / "slurm"), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("resources:")]
    assert lines
    for ln in lines:
        for want in ("slurm_account=acct42", "slurm_partition=part7", "runtime=", "mem_mb=", "cpus_per_task="):
            assert want in ln, ln
    unset = {k: v for k, v in os.environ.items() if k not in ("SBATCH_ACCOUNT", "SBATCH_PARTITION")}
    proc = _dry_run(tmp_path, "--profile", str(REPO / "slurm"), env=unset)
    assert proc.returncode == 0 and "slurm_account=," in proc.stdout  # empty: the plugin's default


@pytest.mark.parametrize("gpu_jobs, threads", [(4, 4), (1, 16)])
def test_gpu_jobs_share_a_workstations_gpu(tmp_path, gpu_jobs, threads):
    """`snakemake --cores 16 --config device=cuda` runs gpu_jobs scoring jobs at once: each
    takes 16 / gpu_jobs of the cores (CPU runs keep `threads`)."""
    proc = _dry_run(tmp_path, "-p", "--cores", "16", "--config", "device=cuda", f"gpu_jobs={gpu_jobs}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    scoring = [ln for ln in proc.stdout.splitlines() if "vkdnw score " in ln]
    assert scoring and all(f"--threads {threads} " in ln for ln in scoring)
    proc = _dry_run(tmp_path, "-p", "--cores", "16")
    assert all("--threads 1 " in ln for ln in proc.stdout.splitlines() if "vkdnw score " in ln)


def test_lint_and_format():
    lint = subprocess.run(["snakemake", "--lint", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
                           "--configfile", str(REPO / "config/tiny.yaml")],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run(["snakefmt", "--check", str(REPO / "Snakefile"), str(REPO / "rules")],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert fmt.returncode == 0, fmt.stderr


SHIPPED_CONFIGS = ["config.yaml", *PRESET_CONFIGS]


@pytest.mark.slow
@pytest.mark.parametrize("config", SHIPPED_CONFIGS)
def test_shipped_configs_dry_run(config, tmp_path):
    """Every shipped config plans, and plans without the ML stack: torch, scipy and sklearn are
    hidden (importing them raises), as on a login node with only the workflow's light needs."""
    hidden = tmp_path / "hidden"
    for module in ("torch", "scipy", "sklearn"):
        (hidden / module).mkdir(parents=True)
        (hidden / module / "__init__.py").write_text(f"raise ImportError('{module} is hidden')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert "torch is hidden" in probe.stderr
    # The shipped benchmark path is relative to the repo; point it at the one this machine has.
    bench = os.environ.get(BENCHMARK_ENV)
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"benchmark": bench}))
    # `ablations` (Tables 5/8/9) needs the benchmark; `all` does not.
    for target in ["all"] + (["ablations"] if bench else []):
        proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                               target, "-n", "--quiet", "rules", "--configfile", str(REPO / config), str(override)],
                              capture_output=True, text=True, timeout=TIMEOUT, env=env)
        assert proc.returncode == 0, f"{target}: " + proc.stdout[-3000:] + proc.stderr[-3000:]


def test_missing_benchmark_fails_before_scoring(tmp_path):
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "--cores", "1", "--configfile", str(REPO / "config/tiny.yaml"),
                           "--config", "benchmark=/nonexistent/nb201.csv"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert "benchmark file /nonexistent/nb201.csv does not exist" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()  # no job ran


def test_missing_benchmark_on_an_existing_run_stops_it(tiny_run):
    """An earlier run's benchmark.parquet must not let a wrong path through: the run stops, and
    neither the tables nor the manifest are rewritten."""
    work, cfg = tiny_run
    manifest = work / "results/nb201/manifest.yaml"
    before = manifest.read_bytes()
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "1",
           "--configfile", str(work / "config.yaml"), "--config", "benchmark=/nonexistent/nb201.csv"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert "does not exist" in proc.stdout + proc.stderr
    assert manifest.read_bytes() == before


def test_archive_verifies_and_detects_corruption(tiny_run, tmp_path):
    work, cfg = tiny_run
    _snakemake(work, "archive", "--cores", "1")
    archive = work / "results.tar.gz"
    ok = subprocess.run(["vkdnw", "verify-archive", str(archive)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    import tarfile

    with tarfile.open(archive) as tar:
        manifest = yaml.safe_load(tar.extractfile("results/MANIFEST.yaml").read())
    assert manifest["config"]["n_archs"] == cfg["n_archs"] and manifest["versions"]["torch"] and manifest["pip_freeze"]
    assert manifest["versions"].keys() >= {"python", "cuda", "cudnn"} and "slurm_job_ids" in manifest["machine"]
    assert manifest["benchmark"]["sha256"] and "nb201/tables/table1.csv" in manifest["files"]
    assert set(manifest["git"]) == {"commit", "dirty"}

    # Rewrite the archive with one byte of one result file flipped.
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name.endswith("table1.csv"):
                data = bytes([data[0] ^ 1]) + data[1:]
            dst.addfile(m, io.BytesIO(data))
    fail = subprocess.run(["vkdnw", "verify-archive", str(bad)], capture_output=True, text=True)
    assert fail.returncode != 0 and "checksum mismatch: nb201/tables/table1.csv" in fail.stderr

    # A second archive of the same results has the same checksums for every result file.
    first = manifest["files"]
    archive.unlink()
    _snakemake(work, "archive", "--cores", "1")
    with tarfile.open(archive) as tar:
        second = yaml.safe_load(tar.extractfile("results/MANIFEST.yaml").read())["files"]
    assert first == second


def test_malformed_benchmark_fails_before_scoring(tmp_path):
    bad = tmp_path / "bench.csv"
    bad.write_text("arch_str,test_acc_cifar10\n|nor_conv_3x3~0|+oops,90\n")
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"benchmark": str(bad)}))
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "--cores", "1", "--configfile", str(REPO / "config/tiny.yaml"), str(override)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert "row 1: arch string" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()  # no job ran


def test_benchmark_change_reruns_only_evaluation(tiny_run, tmp_path):
    work, cfg = tiny_run
    changed = tmp_path / "bench.csv"
    df = pd.read_csv(cfg["benchmark"])
    df.loc[0, "test_acc_cifar10"] = 1.0  # a different ground truth file
    df.to_csv(changed, index=False)
    try:
        _with_config(work, cfg, benchmark=str(changed))
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    # Everything that reads the ground truth, and nothing upstream of it.
    evaluation = {"ingest_benchmark", "evaluate_run", "model_driven", "significance", "significance_table",
                  "make_table", "table7", "html_table", "figure1", "rank_accuracy", "write_manifest", "all"}
    assert set(planned) <= evaluation, planned
    assert planned["ingest_benchmark"] == 1 and planned["evaluate_run"] == len(cfg["datasets"]) * len(cfg["seeds"])


def test_corrupt_block_is_detected_and_rescored(tiny_run):
    work, cfg = tiny_run
    block = work / "results/nb201/cifar10/seed1/scores/vkdnw/block000.parquet"
    good = pd.read_parquet(block)
    block.write_bytes(block.read_bytes()[:100])  # truncated
    # The merge is pending (its outputs and their target are absent), as when blocks were just scored.
    for f in ("scores.parquet", "ranks.parquet"):
        (work / "results/nb201/cifar10/seed1" / f).unlink()
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
           "--configfile", str(work / "config.yaml")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert first.returncode != 0
    log = (work / "results/nb201/cifar10/seed1/logs/merge_scores.log").read_text()
    assert "corrupt block" in log and "block000.parquet" in log
    _snakemake(work, "--cores", "2")  # the rerun rescores the block and merges
    again = pd.read_parquet(block)
    assert again["vkdnw"].tolist() == good["vkdnw"].tolist()
    assert not block.with_name(block.name + ".corrupt").exists()  # served its purpose
    assert _planned(work) == {}


def test_corrupt_merged_scores_are_remade_on_the_next_run(tiny_run):
    """A truncated scores.parquet fails the job that reads it, once: it is moved aside, so
    that the next call merges it again instead of failing on it until someone deletes it."""
    work, cfg = tiny_run
    run = work / "results/nb201/cifar10/seed1"
    merged = run / "scores.parquet"
    good = pd.read_parquet(merged)
    merged.write_bytes(merged.read_bytes()[:100])
    (run / "ranks.parquet").unlink()  # rank_nets reads the merged file
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
           "--configfile", str(work / "config.yaml")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert first.returncode != 0
    # Every job downstream of the rewritten file reruns; whichever reads it first moves it aside.
    logs = "".join(f.read_text() for f in (work / "results/nb201").rglob("logs/*.log"))
    assert "scores.parquet.corrupt: rerun snakemake" in logs
    _snakemake(work, "--cores", "2")
    pd.testing.assert_frame_equal(pd.read_parquet(merged), good)
    assert not merged.with_name("scores.parquet.corrupt").exists()
    assert _planned(work) == {}


def test_unknown_dataset_in_config_is_a_schema_error(tiny_run, tmp_path):
    work, cfg = tiny_run
    _assert_config_rejected(tmp_path, {**cfg, "datasets": ["mnist"]}, "mnist")


def test_a_dataset_overlay_reruns_only_that_datasets_blocks_of_the_groups_it_names(tiny_run, tmp_path):
    work, cfg = tiny_run
    overlay = {"cifar10": {"settings": {"jacov": {"batch_size": 2}, "aznas": {"batch_size": 2}}}}
    try:
        _with_config(work, cfg, per_dataset=overlay)
        out = _snakemake(work, "-n", "-p")
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    assert _rescored_proxies(out) == {"jacov", "aznas"}  # not tenas, which it does not name
    assert set(re.findall(r"dataset=([\w-]+), seed=\d+, proxy=", out)) == {"cifar10"}
    assert planned["score_block"] == len(cfg["seeds"]) * _n_blocks(cfg) * 2
    # The merges follow (the new rows record batch 2, the tables read it): cifar10's only.
    merges = re.findall(r"vkdnw merge .*--settings '([^']*)' .*/(\w+)/seed\d+/scores.parquet", out)
    assert merges and {d for _, d in merges} == {"cifar10"}
    assert all('"jacov": {"batch_size": 2' in s and '"tenas": {"batch_size": 4' in s for s, _ in merges)
    _assert_config_rejected(tmp_path, {**cfg, "per_dataset": {"mnist": overlay["cifar10"]}}, "mnist")
    _assert_config_rejected(tmp_path, {**cfg, "per_dataset": {"cifar10": {"settings": {"znas": {"batch_size": 2}}}}},
                            "znas")
    # The precision key: a value the schema does not know, a group without a float64 path.
    _assert_config_rejected(tmp_path, {**cfg, "settings": {"zico": {"dtype": "float16"}}}, "float16")
    _assert_config_rejected(tmp_path, {**cfg, "per_dataset": {"cifar10": {"settings": {"jacov": {"dtype": "float64"}}}}},
                            "jacov has no setting 'dtype'")


def test_a_dataset_overlays_proxies_limit_its_groups(tiny_run):
    work, cfg = tiny_run
    try:
        _with_config(work, cfg, per_dataset={"cifar10": {"proxies": ["size", "vkdnw"]}})
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    # cifar10 now merges two groups. blocks: no scoring, a new merge per cifar10 run.
    assert "score_block" not in planned
    assert planned["merge_scores"] == len(cfg["seeds"])


def test_model_driven_setting_reruns_only_the_model_stage(tiny_run):
    work, cfg = tiny_run
    try:
        _with_config(work, cfg, model_driven={**cfg.get("model_driven", {}), "n_train": 3})
        planned = _planned(work)
    finally:
        _with_config(work, cfg)
    n_runs = len(cfg["datasets"]) * len(cfg["seeds"])
    assert planned.get("model_driven") == n_runs
    assert not {"score_block", "merge_scores", "rank_nets", "evaluate_run"} & set(planned)
    assert planned.get("make_table") == 1  # Table 1 only; Table 10 has no model rows


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _frame(page, name: str, timeout_s: float = 20.0):
    """The iframe the report opened for ``name`` (it appears asynchronously after the click)."""
    for _ in range(int(timeout_s * 10)):
        frames = [f for f in page.frames if f"filename={name}" in f.url]
        if frames:
            return frames[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"the report opened no view of {name}")


@pytest.mark.browser
def test_report_renders_every_table_and_figure(tiny_run, tmp_path):
    """`snakemake --report` on the tiny run, opened in Debian's headless Chromium: every table
    shows as an HTML table with rows and every figure as a decoded image (DOM checks)."""
    work, cfg = tiny_run
    report = tmp_path / "report.html"
    _snakemake(work, "--report", str(report))
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium: apt-get install chromium (.ci/run does as root)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    tables = ["table1", "table10", "table4", "table7", "significance"]
    figures = ["figure2"] + [f"{k}_{d}" for k in ("figure1", "figure3", "figure4", "rank_accuracy")
                             for d in cfg["datasets"]]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(report.as_uri())
        page.get_by_text("Tables", exact=True).first.click()
        for name in tables:
            page.locator("tr", has_text=f"tables/{name}.html").first.locator("a").first.click()
            frame = _frame(page, f"{name}.html")
            frame.wait_for_selector("table")
            assert frame.locator("table tr").count() > 1, name
            if name == "table1":
                assert "VKDNW_single" in frame.inner_text("body")
        page.get_by_text("Results", exact=True).first.click()
        page.get_by_text("Figures", exact=True).first.click()
        for name in figures:
            page.locator("tr", has_text=f"figures/{name}.png").first.locator("a").first.click()
            img = page.locator(f'img[src*="filename={name}.png"]').first
            img.wait_for(state="visible")
            assert img.evaluate("i => i.complete && i.naturalWidth") > 100, name
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()


@pytest.mark.slow
def test_quick_run_then_benchmark_adds_the_tables(tmp_path):
    """The README's quick run, then its next step: the benchmark adds Table 1 (model-driven rows
    included) and the other evaluation outputs without rescoring a net."""
    work = tmp_path
    cfg = yaml.safe_load((REPO / "config/quick.yaml").read_text())
    cfg["results"] = "results"
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    _snakemake(work, "--cores", "2")
    nb = work / "results/nb201"
    assert (nb / "ImageNet16-120/seed1/ranks.parquet").exists() and (nb / "tables/table4.csv").exists()
    assert not (nb / "tables/table1.csv").exists()
    real = os.environ.get(BENCHMARK_ENV)
    if real and Path(real).is_file():
        bench = real
    else:
        # Plumbing only: synthetic accuracies for the sampled nets (no ground truth claimed).
        archs = select_archs(cfg["subset"], cfg["n_archs"], cfg["sample_seed"])
        rng = np.random.default_rng(1)
        pd.DataFrame({"arch_str": archs, "test_acc_ImageNet16-120": rng.uniform(10, 50, len(archs))}).to_csv(
            work / "bench.csv")
        bench = str(work / "bench.csv")
    planned = _planned(work, "--config", f"benchmark={bench}")
    assert "score_block" not in planned and "merge_scores" not in planned, planned
    _snakemake(work, "--cores", "2", "--config", f"benchmark={bench}")
    table1 = pd.read_csv(nb / "tables/table1.csv")
    assert {"VKDNW_single", "aleph", "FLOPs", "VKDNW_m", "GRAF"} <= set(table1["method"])
    assert (nb / "manifest.yaml").exists() and (nb / "tables/table7.csv").exists()


def test_ablations_target_builds_tables_5_8_9_and_leaves_all_alone(tiny_run):
    """`snakemake ablations` (outside `all`) scores each distinct VKDNW setting once with the
    ordinary scoring rule and writes Tables 5, 8 and 9; changing an ablation setting plans no
    job of the main runs."""
    from vkdnw.stages.ablation import ablation_rows, settings_by_id
    from vkdnw.config import load_config

    work, cfg = tiny_run
    full = load_config(work / "config.yaml")
    n_settings = len(settings_by_id(full))
    planned = _planned(work, "ablations")
    n_blocks = -(-full["ablations"]["n_archs"] // cfg["block_size"])
    n_runs = n_settings * len(full["ablations"]["seeds"])
    assert planned["score_ablation"] == n_runs * n_blocks and planned["evaluate_ablation"] == n_runs
    assert "score_block" not in planned and planned["ablation_table"] == 3
    _snakemake(work, "--cores", "2", "ablations")
    nb = work / "results/nb201"
    for table in ("table5", "table8", "table9"):
        t = pd.read_csv(nb / f"tables/{table}.csv")
        assert len(t) == sum(r.table == table for r in ablation_rows(full))
        assert t[["kt", "spr", "ndcg"]].notna().all().all() and (t["n_nets"] == 6).all()
        assert (nb / f"tables/{table}.html").is_file() and (nb / f"tables/{table}.md").is_file()
    t5 = pd.read_csv(nb / "tables/table5.csv")
    assert t5["input"].tolist() == ["random", "real"]
    # No data path: the real row reads its random twin's run and says it saw noise.
    assert t5["input_used"].tolist() == ["random", "random"] and t5["setting"].nunique() == 1
    try:
        _with_config(work, cfg, ablations={**cfg["ablations"], "fim_sizes": [4, 8, 128]})
        # Of `all`, only the manifest (which records the whole config) is redone.
        assert set(_planned(work)) <= {"write_manifest", "all"}
        replanned = _planned(work, "ablations")
    finally:
        _with_config(work, cfg)
    assert replanned["score_ablation"] == n_blocks * len(full["ablations"]["seeds"])  # only FIM 8


def test_a_group_in_a_module_of_its_own_is_scored_ranked_and_tabulated(tmp_path):
    """A group defined in one file outside the package (``proxy_modules``), with no other file
    touched: the run scores it, ranks it by the method it declares and writes its row in
    table1.csv, beside the built-in groups."""
    from scipy.stats import kendalltau

    from vkdnw.spaces.nb201 import n_conv

    work = tmp_path / "plugin"
    work.mkdir()
    archs = select_archs("unique", 8, 0)
    rng = np.random.default_rng(1)
    # Plumbing only: synthetic accuracies (no ground truth claimed).
    acc = pd.DataFrame({"arch_str": archs, **{f"test_acc_{d}": rng.uniform(10, 95, len(archs)) for d in
                                              ("cifar10", "cifar100", "ImageNet16-120")}})
    acc.to_csv(work / "bench.csv")
    cfg = {"results": "results", "benchmark": str(work / "bench.csv"), "subset": "unique", "n_archs": 8,
           "datasets": ["cifar10"], "seeds": [1], "proxies": ["size", "convcount"], "block_size": 4,
           "proxy_modules": [str(REPO / "tests/plugins/convcount.py")],
           "model_driven": {"enabled": False}, "significance": {"enabled": False}, "mbv2": {"enabled": False}}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    _snakemake(work, "--cores", "2")
    run = work / "results/nb201/cifar10/seed1"
    block = pd.read_parquet(run / "scores/convcount/block000.parquet")
    assert block["n_conv"].tolist() == [float(n_conv(a)) for a in block["arch_str"]]
    assert "ConvCount" in pd.read_parquet(run / "ranks.parquet").columns
    table = pd.read_csv(work / "results/nb201/tables/table1.csv").set_index("method")
    row = table.loc["ConvCount"]
    assert row["type"] == "S" and row["n_nets"] == 8 and row["input"] == "-"
    want = kendalltau([n_conv(a) for a in archs], acc["test_acc_cifar10"]).statistic
    assert row["kt"] == pytest.approx(want, abs=1e-6)
    assert {"FLOPs", "params", "aleph"} <= set(table.index)
    # A name the registry does not know is still a one-line error (the module is the registry's).
    bad = {**cfg, "proxy_modules": [str(tmp_path / "nope.py")]}
    _assert_config_rejected(tmp_path, bad, "proxy_modules: ")
