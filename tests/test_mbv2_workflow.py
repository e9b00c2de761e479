"""Table 2 end to end at toy scale: the search and training rules, torchrun DDP on CPU, resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import PRESET_CONFIGS, REPO

pytestmark = [pytest.mark.workflow, pytest.mark.slow]
TIMEOUT = 1200
TINY = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
TOY_TRAIN = TINY["mbv2"]["train"]["settings"]


def make_image_folder(root: Path, classes: int = 3, n_train: int = 8, n_val: int = 4) -> Path:
    """A tiny ImageFolder (train/ and val/) of random 40x40 PNGs."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        for c in range(classes):
            d = root / split / f"class{c}"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def _write_config(work: Path, data: Path | None) -> Path:
    cfg = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    cfg.update(results="results", benchmark=None)
    cfg["mbv2"]["enabled"] = True
    cfg["mbv2"]["train"]["data"] = str(data) if data else None
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), *args,
                           "--configfile", str(work / "config.yaml")], capture_output=True, text=True,
                          timeout=TIMEOUT)


@pytest.mark.slow
def test_tiny_search_then_torchrun_training_end_to_end(tmp_path):
    data = make_image_folder(tmp_path / "imagenet")
    _write_config(tmp_path, data)
    proc = _snakemake(tmp_path, "table2_mbv2", "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    mb = tmp_path / "results/mbv2"
    summary = json.loads((mb / "search/summary.json").read_text())
    assert summary["iterations"] == 6 and summary["candidates_per_second"] > 0
    assert len(pd.read_parquet(mb / "search/shortlist.parquet")) == 4
    metrics = json.loads((mb / "train/metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs"] == 1
    assert metrics["structure"] == (mb / "search/best_structure.txt").read_text().strip()
    log = pd.read_csv(mb / "train/train_log.csv")
    assert list(log["epoch"]) == [0] and 0 <= log["top1"][0] <= 100
    assert (mb / "train/curves.png").stat().st_size > 0 and (mb / "train/curves.svg").exists()
    t2 = pd.read_csv(mb / "table2.csv")
    ours = t2.iloc[0]
    assert ours["method"] == "VKDNW_agg (ours)" and ours["top1"] == pytest.approx(metrics["top1"])
    assert ours["flops_M"] == pytest.approx(summary["best_flops"] / 1e6)
    assert t2.iloc[1]["top1"] == 78.8  # the paper's row beside ours
    # nothing left to do
    again = _snakemake(tmp_path, "table2_mbv2", "-n", "--quiet", "rules")
    assert "train_mbv2" not in again.stdout and "search_mbv2" not in again.stdout


@pytest.mark.slow
def test_killed_training_resumes_under_torchrun_with_a_teacher(tmp_path):
    from vkdnw.mbv2.timm_compat import import_timm

    timm = import_timm()
    import torch

    data = make_image_folder(tmp_path / "imagenet")
    teacher = timm.create_model("mobilenetv3_small_050", num_classes=3)
    torch.save(teacher.state_dict(), tmp_path / "teacher.pth")
    settings = dict(TOY_TRAIN, teacher="mobilenetv3_small_050", teacher_checkpoint=str(tmp_path / "teacher.pth"),
                    teacher_resolution=48, ema_decay=0.9)
    structure = "SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(8,32,2,8,1)SuperResIDWE6K3(32,48,2,32,1)" \
                "SuperConvK1BNRELU(48,2048,1,1)"

    cmd = ["torchrun", "--standalone", "--nproc_per_node=2", "-m", "vkdnw.cli", "mbv2-train", "--structure",
           structure, "--data", str(data), "--settings", json.dumps(dict(settings, epochs=4)),
           "--out-dir", str(tmp_path / "train")]
    # Kill the whole torchrun process group (SIGKILL) once the first epoch is checkpointed.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    # (train_log.csv is written right after each epoch's checkpoint)
    while time.time() < deadline and not (tmp_path / "train/train_log.csv").exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = pd.read_csv(tmp_path / "train/train_log.csv")
    assert 1 <= len(before) and not (tmp_path / "train/metrics.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "resumed from" in again.stdout
    after = pd.read_csv(tmp_path / "train/train_log.csv")
    assert list(after["epoch"]) == [0, 1, 2, 3]
    done = int(again.stdout.split("after epoch ")[1].split()[0])
    assert done >= len(before) - 1
    # the epochs checkpointed before the kill were kept, not retrained
    pd.testing.assert_frame_equal(after.head(len(before)), before)
    metrics = json.loads((tmp_path / "train/metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs"] == 4
    # another recipe does not resume this net
    other = subprocess.run(cmd[:-4] + ["--settings", json.dumps(dict(settings, epochs=1, lr_per_256=0.05)),
                                       "--out-dir", str(tmp_path / "train")], capture_output=True, text=True,
                           timeout=TIMEOUT)
    assert other.returncode == 0 and "resumed from" not in other.stdout


def test_training_without_imagenet_fails_early_with_one_line(tmp_path):
    for args in (["mbv2-check-data"], ["mbv2-train", "--structure", "x", "--out-dir", str(tmp_path)]):
        proc = subprocess.run([sys.executable, "-m", "vkdnw.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2
        assert "mbv2.train.data is not set" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "vkdnw.cli", "mbv2-check-data", "--data", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "train: no such folder" in proc.stderr


def test_paper_config_plans_search_and_training_with_their_gpus(tmp_path):
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "table2_mbv2", "-n", "--profile", str(REPO / "slurm"),
                           "--configfile", str(REPO / "config.yaml")], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    blocks = {m.split("\n")[0].strip(": "): m for m in out.split("rule ")[1:]}
    assert "gpu=1" in blocks["search_mbv2"] and "gpu=8" in blocks["train_mbv2"]
    assert "gpu=" not in blocks["table2_mbv2"].split("resources:")[1].split("\n")[0]


@pytest.mark.parametrize("config", PRESET_CONFIGS)
def test_presets_leave_the_gpu_scale_table2_out(config, tmp_path):
    """config.yaml enables Table 2 at the paper's scale; every preset merged over it (the
    laptop command among them) must switch it off, or `all` would start a 100k-candidate
    search on the CPU."""
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"benchmark": None}))  # the presets' path is relative to the repo
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "-n", "--quiet", "rules", "--configfile", str(REPO / config), str(override)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "score_block" in proc.stdout and "mbv2" not in proc.stdout
