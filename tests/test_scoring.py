import os

import numpy as np
import pandas as pd
import pytest
import yaml

from vkdnw.cli import main
from vkdnw.io import read_parquet
from vkdnw.plan import select_archs
from vkdnw.stages.scoring import score_block
from vkdnw.stages.merge import merge_blocks

SETTINGS = {"vkdnw": {"batch_size": 2}}


def test_selection():
    assert len(select_archs("unique")) == 9445
    a = select_archs("unique", 7, 3)
    assert len(a) == 7 and a == select_archs("unique", 7, 3) and a == sorted(a, key=select_archs("unique").index)
    with pytest.raises(ValueError):
        select_archs("some")


def test_block_layout_and_order_do_not_change_numbers(tmp_path):
    archs = select_archs("unique", 4, 1)
    kw = dict(proxy="vkdnw", dataset="ImageNet16-120", seed=3, settings=SETTINGS, progress=False)
    whole = score_block(archs, out=tmp_path / "whole.parquet", **kw)
    parts = pd.concat([score_block(archs[2:], out=tmp_path / "b.parquet", **kw),
                       score_block(archs[:1][::-1], out=tmp_path / "a.parquet", **kw),
                       score_block([archs[1]], out=tmp_path / "c.parquet", **kw)])
    parts = parts.set_index("arch_str").loc[archs]
    assert whole["vkdnw"].tolist() == parts["vkdnw"].tolist()
    assert whole["vkdnw_lambda_9"].tolist() == parts["vkdnw_lambda_9"].tolist()


def test_resume_from_partial(tmp_path, monkeypatch):
    archs = select_archs("unique", 3, 2)
    out = tmp_path / "s.parquet"
    kw = dict(proxy="size", dataset="cifar10", seed=1, settings={}, progress=False)
    full = score_block(archs, out=tmp_path / "full.parquet", **kw)
    # A checkpoint with the first net done: only the other two may be scored.
    full.iloc[:1].to_parquet(out.with_name(out.name + ".partial.parquet"))
    scored = []
    import vkdnw.stages.scoring as sc

    real = sc.score_net
    monkeypatch.setattr(sc, "score_net", lambda p, ctx: scored.append(ctx.arch_str) or real(p, ctx))
    df = score_block(archs, out=out, **kw)
    assert scored == archs[1:]
    assert df.drop(columns="seconds").equals(full.drop(columns="seconds"))
    assert not out.with_name(out.name + ".partial.parquet").exists()


def test_merge_detects_problems(tmp_path):
    archs = select_archs("unique", 2, 0)
    d = tmp_path / "scores"
    for proxy, settings in (("size", {}), ("vkdnw", SETTINGS)):
        score_block(archs, proxy=proxy, dataset="cifar10", seed=1, settings=settings,
                    out=d / proxy / "block000.parquet", progress=False)
    blocks = [("size", str(d / "size/block000.parquet")), ("vkdnw", str(d / "vkdnw/block000.parquet"))]
    merged = merge_blocks(blocks, tmp_path / "m.parquet", expected=True, subset="unique", n_archs=2)
    assert {"vkdnw", "params", "flops", "aleph", "seconds_vkdnw", "seconds_size"} <= set(merged.columns)
    with pytest.raises(ValueError, match="missing"):
        merge_blocks(blocks, tmp_path / "m2.parquet", expected=True, subset="unique", n_archs=3)
    with pytest.raises(ValueError, match="scored twice"):
        merge_blocks(blocks + blocks[:1], tmp_path / "m3.parquet")
    # The rule says which group each block holds: a bare path (no PROXY=) is a one-line error.
    assert main(["merge", "--blocks", blocks[0][1], "--out", str(tmp_path / "m5.parquet")]) == 2
    assert main(["merge", "--blocks", *(f"{p}={f}" for p, f in blocks), "--out", str(tmp_path / "m5.parquet")]) == 0
    (d / "size/block000.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(ValueError, match="corrupt block.*not a readable Parquet"):
        merge_blocks(blocks, tmp_path / "m4.parquet")
    assert not (tmp_path / "m4.parquet").exists()
    assert not (d / "size/block000.parquet").exists() and (d / "size/block000.parquet.corrupt").exists()


def test_rows_record_their_settings_and_the_merge_checks_them(tmp_path):
    """Each row records the batch size and precision it was scored at; the merge names them
    by group, gives them to blocks scored before rows recorded them, and refuses a block whose
    record disagrees with the run's settings."""
    archs = select_archs("unique", 2, 0)
    d = tmp_path / "scores"
    jobs = {"vkdnw": SETTINGS, "zico": {"zico": {"batch_size": 2, "data": None, "dtype": "float64"}},
            "jacov": {"jacov": {"batch_size": 2, "data": None}}}
    for proxy, settings in jobs.items():
        df = score_block(archs, proxy=proxy, dataset="cifar10", seed=1, settings=settings,
                         out=d / proxy / "block000.parquet", progress=False)
        assert df["batch_size"].tolist() == [2, 2]
    # dtype where it is a setting of the group (ZiCo's, GraSP's): the others' precision is fixed.
    assert read_parquet(d / "zico/block000.parquet", ())["dtype"].tolist() == ["float64"] * 2
    assert "dtype" not in read_parquet(d / "jacov/block000.parquet", ()).columns
    blocks = [(p, str(d / p / "block000.parquet")) for p in jobs]
    run = {p: s[p] for p, s in jobs.items()}
    merged = merge_blocks(blocks, tmp_path / "m.parquet", settings=run)
    assert merged["batch_size_vkdnw"].tolist() == [2, 2] and merged["dtype_zico"].tolist() == ["float64"] * 2
    # A block from before rows recorded their settings: the run's settings fill them in.
    for proxy in ("jacov", "zico"):
        old = read_parquet(d / proxy / "block000.parquet", ()).drop(columns=["batch_size", "dtype"], errors="ignore")
        old.to_parquet(d / proxy / "block000.parquet")
    merged = merge_blocks(blocks, tmp_path / "m2.parquet", settings=run)
    assert merged["batch_size_jacov"].tolist() == [2, 2] and merged["dtype_zico"].tolist() == ["float64"] * 2
    with pytest.raises(ValueError, match=r"proxy vkdnw: blocks scored at batch_size \[2\], the run's settings say 8"):
        merge_blocks(blocks, tmp_path / "m3.parquet", settings={**run, "vkdnw": {"batch_size": 8}})
    assert not (tmp_path / "m3.parquet").exists()


def test_cli_rescore_and_bad_arch_list(tmp_path, capsys):
    arch = select_archs("unique", 1, 5)[0]
    assert main(["rescore", "--proxy", "size", "--dataset", "cifar10", "--seed", "1", arch]) == 0
    assert '"params"' in capsys.readouterr().out
    bad = tmp_path / "archs.txt"
    bad.write_text(f"{arch}\n|nor_conv_3x3~0|+oops\n")
    assert main(["score", "--proxy", "size", "--dataset", "cifar10", "--seed", "1", "--archs", str(bad),
                 "--out", str(tmp_path / "o.parquet")]) == 2
    assert "line/row 2" in capsys.readouterr().err
    assert main(["score", "--proxy", "nope", "--dataset", "cifar10", "--seed", "1", "--out", "x.parquet"]) == 2
    assert "unknown proxy 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.slow
def test_sigkill_mid_block_then_resume(tmp_path):
    """Kill a scoring job with SIGKILL mid-block; the rerun resumes and equals a clean run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    archs = select_archs("unique", 8, 11)
    listing = tmp_path / "archs.txt"
    listing.write_text("\n".join(archs) + "\n")
    out = tmp_path / "killed.parquet"
    partial = out.with_name(out.name + ".partial.parquet")
    # `python -m vkdnw` (the rules call the `vkdnw` entry point; this covers the module form).
    cmd = [sys.executable, "-m", "vkdnw", "score", "--proxy", "vkdnw", "--dataset", "ImageNet16-120",
           "--seed", "4", "--archs", str(listing), "--settings", '{"vkdnw": {"batch_size": 2}}', "--quiet"]
    proc = subprocess.Popen([*cmd, "--out", str(out)], start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (partial.exists() and len(read_parquet(partial)) >= 2):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the block finished before it could be killed"
    done_before = len(read_parquet(partial))
    assert 2 <= done_before < len(archs)
    subprocess.run([*cmd, "--out", str(out)], check=True, timeout=600)
    clean = tmp_path / "clean.parquet"
    subprocess.run([*cmd, "--out", str(clean)], check=True, timeout=600)
    a, b = read_parquet(out), read_parquet(clean)
    assert a["arch_str"].tolist() == b["arch_str"].tolist() == archs
    cols = [c for c in a.columns if c.startswith("vkdnw") or c == "aleph"]
    assert a[cols].equals(b[cols])
    assert not partial.exists()


def test_nan_score_is_recorded_not_fatal(tmp_path, monkeypatch):
    import math

    monkeypatch.setattr("vkdnw.proxies.vkdnw.entropy", lambda q: float("nan"))
    archs = select_archs("unique", 2, 9)
    df = score_block(archs, proxy="vkdnw", dataset="cifar10", seed=1, settings=SETTINGS,
                     out=tmp_path / "s.parquet", progress=False)
    assert len(df) == 2 and df["vkdnw"].map(math.isnan).all()
    assert df["error"].str.contains("FloatingPointError: non-finite VKDNW value").all()


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), PermissionError(13, "Permission denied")])
def test_failed_write_leaves_no_partial_file(tmp_path, error):
    from vkdnw.io import atomic_write

    target = tmp_path / "out.parquet"

    def write(tmp):
        tmp.write_bytes(b"PAR1 half")
        raise error

    with pytest.raises(OSError, match=error.strerror):
        atomic_write(target, write)
    assert list(tmp_path.iterdir()) == []


def test_read_only_directory_is_a_clear_error(tmp_path):
    import os

    from vkdnw.io import write_parquet

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        with pytest.raises(PermissionError):
            write_parquet(pd.DataFrame({"a": [1]}), ro / "x.parquet")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_manifest_dirty_flag_ignores_the_results_tree(tmp_path, monkeypatch):
    """A rerun rewrites committed results (the manifest itself among them): that is not a
    dirty tree; an edited source file is."""
    import json
    import subprocess

    import yaml

    from vkdnw.stages.manifest import write_manifest

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "res").mkdir()
    (tmp_path / "res/manifest.yaml").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    monkeypatch.chdir(tmp_path)
    cfg = json.dumps({"results": "res"})
    write_manifest(cfg, "res/manifest.yaml", [], [])
    assert yaml.safe_load((tmp_path / "res/manifest.yaml").read_text())["git"]["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    write_manifest(cfg, "res/manifest.yaml", [], [])
    assert yaml.safe_load((tmp_path / "res/manifest.yaml").read_text())["git"]["dirty"] is True


def test_manifest_sums_scoring_seconds_of_every_committed_block(tmp_path):
    """The scores' own per-net seconds survive a fresh clone, where the benchmark files of
    the jobs that made them (git-ignored) do not."""
    import yaml

    from vkdnw.stages.manifest import write_manifest

    run = tmp_path / "nb201/cifar10/seed1"
    run.mkdir(parents=True)
    pd.DataFrame({"arch_str": ["a", "b"], "vkdnw": [1.0, 2.0], "seconds_vkdnw": [0.25, 0.5],
                  "seconds_size": [0.125, 0.125]}).to_parquet(run / "scores.parquet")
    other = tmp_path / "table1.csv"
    other.write_text("method\n")
    m = write_manifest("{}", tmp_path / "manifest.yaml", [str(run / "scores.parquet"), str(other)], [],
                       runs=[("cifar10/seed1", str(run / "scores.parquet"))])
    assert m["scoring_seconds"] == {"cifar10/seed1": {"vkdnw": 0.8, "size": 0.2}}  # rounded to 0.1 s
    assert yaml.safe_load((tmp_path / "manifest.yaml").read_text())["scoring_seconds"] == m["scoring_seconds"]


@pytest.mark.parametrize("name, content, message", [
    ("archs.csv", "index,arch\n0,x\n", "no 'arch_str' column"),
    ("archs.csv", "", "no archs listed"),
    ("archs.txt", "# only a comment\n", "no archs listed"),
    ("archs.csv", "arch_str\n", "no archs listed"),
])
def test_bad_arch_files_are_one_line_errors(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    out = tmp_path / "o.parquet"
    assert main(["score", "--proxy", "size", "--dataset", "cifar10", "--seed", "1", "--archs", str(path),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize("proxy, settings, message", [
    ("vkdnw", '{"vkdnw": {"batchsize": 8}}', "vkdnw has no setting 'batchsize'"),
    ("vkdnw", '{"batch_size": 8}', "'batch_size' is not a proxy group"),
    ("vkdnw", '{"aznas": {"batch_size": 8}}', "'aznas' is another proxy group"),
    ("jacov", '{"jacov": 16}', "settings of jacov must be an object"),
    ("size", '{"size": {"batch_size": 8}}', "size has no setting 'batch_size' (its settings: none)"),
    ("vkdnw", '[8]', "expected a JSON object"),
    ("vkdnw", '{"vkdnw": ', "not valid JSON"),
])
def test_settings_a_job_would_ignore_are_one_line_errors(tmp_path, capsys, proxy, settings, message):
    """A misspelt or wrongly nested setting used to score silently at the defaults."""
    out = tmp_path / "o.parquet"
    assert main(["score", "--proxy", proxy, "--dataset", "cifar10", "--seed", "1", "--n-archs", "1",
                 "--settings", settings, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_every_registered_group_accepts_the_settings_the_workflow_gives_it():
    """The workflow's own settings (config.yaml and every preset) pass the check."""
    import glob

    from vkdnw.config import load_config
    from vkdnw.proxies.registry import check_settings, list_proxies
    from vkdnw.plan import proxy_settings

    for path in ["config.yaml", *glob.glob("config/*.yaml")]:
        cfg = load_config(path)
        for proxy in list_proxies():
            for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
                check_settings(proxy, proxy_settings(cfg, proxy, dataset))


def test_writes_follow_the_umask(tmp_path):
    from vkdnw.io import write_text

    old = os.umask(0o027)
    try:
        write_text("x", tmp_path / "a.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    write_text("y", tmp_path / "b.txt")
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o666 & ~old


def test_a_corrupt_workflow_output_is_moved_aside_and_cleaned_up_when_remade(tmp_path):
    from vkdnw.io import write_parquet

    path = tmp_path / "scores.parquet"
    write_parquet(pd.DataFrame({"arch_str": ["a"]}), path)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="moved aside"):
        read_parquet(path, remake=True)
    assert not path.exists() and (tmp_path / "scores.parquet.corrupt").exists()
    write_parquet(pd.DataFrame({"arch_str": ["a"]}), path)
    assert not (tmp_path / "scores.parquet.corrupt").exists()
    # A user's own file is never moved.
    user = tmp_path / "bench.parquet"
    user.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable Parquet"):
        read_parquet(user)
    assert user.exists()


def test_a_run_reuses_another_runs_rows_only_where_group_version_and_settings_match(tmp_path, capsys):
    """`reuse_scores`: rows of the same group, version, settings, dataset and seed are taken
    as they are (a rescoring would give them); other settings, or a failed row, are scored."""
    import pyarrow.parquet as pq

    from vkdnw.layout import run, run_blocks
    from vkdnw.stages.scoring import VERSION_KEY

    archs = select_archs("unique", 3, 0)
    settings = {"synflow": {"batch_size": 4, "data": None}}
    a = tmp_path / "a/nb201/cifar10/seed1/scores/synflow/block000.parquet"
    first = score_block(archs[:2], proxy="synflow", dataset="cifar10", seed=1, settings=settings, out=a,
                        progress=False)
    assert pq.read_schema(a).metadata[VERSION_KEY.encode()] == b"synflow v1"
    assert run_blocks(run(tmp_path / "a", "cifar10", 1), "synflow") == [a]
    capsys.readouterr()
    b = score_block(archs, proxy="synflow", dataset="cifar10", seed=1, settings=settings,
                    out=tmp_path / "b.parquet", progress=False, reuse_from=[tmp_path / "a"])
    assert "2 of 3 nets reused" in capsys.readouterr().err
    pd.testing.assert_frame_equal(b.iloc[:2].reset_index(drop=True), first)  # seconds too: taken, not rescored
    fresh = score_block(archs, proxy="synflow", dataset="cifar10", seed=1, settings=settings,
                        out=tmp_path / "c.parquet", progress=False)
    assert np.allclose(b["synflow"], fresh["synflow"], rtol=1e-6)
    other = {"synflow": {"batch_size": 8, "data": None}}
    score_block(archs, proxy="synflow", dataset="cifar10", seed=1, settings=other, out=tmp_path / "d.parquet",
                progress=False, reuse_from=[tmp_path / "a"])
    assert "0 of 3 nets reused" in capsys.readouterr().err
    # A block written before provenance was recorded counts as the group's version 1.
    first.to_parquet(a)
    score_block(archs, proxy="synflow", dataset="cifar10", seed=1, settings=settings, out=tmp_path / "e.parquet",
                progress=False, reuse_from=[tmp_path / "a"])
    assert "2 of 3 nets reused" in capsys.readouterr().err
    first.assign(error=["", "RuntimeError: boom"]).to_parquet(a)  # a failed net is scored again
    score_block(archs, proxy="synflow", dataset="cifar10", seed=1, settings=settings, out=tmp_path / "f.parquet",
                progress=False, reuse_from=[tmp_path / "a"])
    assert "1 of 3 nets reused" in capsys.readouterr().err


def test_reuse_roots_are_the_runs_with_the_same_group_settings(tmp_path):
    from vkdnw.config import validate_config
    from vkdnw.plan import reuse_roots

    def write(name, **cfg):
        (tmp_path / name).write_text(yaml.safe_dump({"results": str(tmp_path / f"{name}.results"), **cfg}))
        return str(tmp_path / name)

    same = write("same.yaml", datasets=["cifar10"], seeds=[1, 2], proxies=["size", "vkdnw"],
                 settings={"vkdnw": {"batch_size": 8}})
    other = write("other.yaml", datasets=["cifar10"], seeds=[1], proxies=["vkdnw"], settings={"vkdnw": {"batch_size": 16}})
    cfg = validate_config({"results": str(tmp_path / "me"), "datasets": ["cifar10"], "seeds": [1],
                           "proxies": ["size", "vkdnw"], "settings": {"vkdnw": {"batch_size": 8}}, "reuse_scores": [same, other]})
    assert reuse_roots(cfg, "vkdnw", "cifar10", 1) == [f"{same}.results"]  # other's VKDNW is at batch 16
    assert reuse_roots(cfg, "size", "cifar10", 1) == [f"{same}.results"]  # other scored no size
    assert reuse_roots(cfg, "vkdnw", "cifar10", 3) == []  # no run has seed 3
    assert reuse_roots(cfg, "vkdnw", "cifar100", 1) == []
    # A relative entry is found from the working directory or the workflow's folder, else named.
    rel = validate_config({**cfg, "reuse_scores": ["same.yaml"]})
    assert reuse_roots(rel, "vkdnw", "cifar10", 1, base=str(tmp_path)) == [f"{same}.results"]
    with pytest.raises(ValueError, match="reuse_scores: same.yaml does not exist"):
        reuse_roots(rel, "vkdnw", "cifar10", 1)


def test_a_reader_that_stops_early_ends_the_cli_quietly():
    """`vkdnw proxies | head`: a closed pipe ends the command with rc 0 and no traceback."""
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    try:
        proc = subprocess.run([sys.executable, "-m", "vkdnw", "proxies"], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
