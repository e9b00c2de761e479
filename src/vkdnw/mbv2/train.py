"""ImageNet training of the searched MobileNetV2 net (Table 2), data-parallel under torchrun.

The recipe is the one AZ-NAS/ZenNAS trained their 450M-FLOPs nets with
(``ts_train_image_classification.py`` as called by ``train_AZ-NAS_flops450M-480ep-bs64x8.sh``),
which the VKDNW paper reuses: SGD with nesterov, lr 0.1 per 256 images (0.2 at 8 x 64),
one cosine cycle to 0 after 5 warm-up epochs, weight decay 4e-5, BN momentum 0.01, label
smoothing, mixup, AutoAugment, random erasing, 480 epochs at 224 px, SE modules in the
inverted-residual units, and distillation from ``tf_efficientnet_b3`` (noisy student) at 320 px
with logit and feature weights 1.0. The feature loss matches the student's first 1/16
feature map to the teacher's through a 1x1 projection (no BN, no ReLU: ``--ts_proj_no_bn
--ts_proj_no_relu``). Without a teacher the net trains plainly.

timm provides the optimizer, scheduler, loaders, augmentation, mixup, EMA and the teacher.
Each epoch ends with an atomic checkpoint; a restarted job resumes from it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from vkdnw.mbv2.timm_compat import import_timm
from vkdnw.io import atomic_write, write_text
from vkdnw.proxies.common import kaiming_init_
from vkdnw.spaces import mbv2

LOG_FIELDS = ("epoch", "lr", "train_loss", "val_loss", "top1", "top5", "epoch_seconds")


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 480
    batch_size_per_gpu: int = 64
    lr_per_256: float = 0.1
    warmup_epochs: int = 5
    weight_decay: float = 4e-5
    momentum: float = 0.9
    bn_momentum: float = 0.01
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.2
    auto_augment: str | None = "original"
    re_prob: float = 0.2
    resolution: int = 224
    num_classes: int = 1000
    use_se: bool = True
    ema_decay: float = 0.0  # 0 disables timm's ModelEmaV3 (the reference trains without EMA)
    teacher: str | None = "tf_efficientnet_b3.ns_jft_in1k"
    teacher_checkpoint: str | None = None
    teacher_resolution: int = 320
    teacher_logit_weight: float = 1.0
    teacher_feature_weight: float = 1.0
    feature_downsample: int = 16
    workers: int = 8
    seed: int = 0
    max_steps_per_epoch: int = 0  # >0 caps an epoch (tests); 0 = the whole training set


def run_key(structure: str, s: TrainSettings, world: int) -> str:
    import hashlib

    d = asdict(s)
    d.pop("workers")  # loader processes change no number
    d.update(structure=mbv2.canonical(structure), world=world)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def check_data(data: str | None) -> tuple[Path, Path]:
    """The ImageFolder train/ and val/ folders under ``data``, or a clear error."""
    if not data:
        raise ValueError("mbv2.train.data is not set: point it at an ImageNet folder with train/ and val/ "
                         "(ImageFolder layout) to train the searched net")
    root = Path(data)
    train, val = root / "train", root / "val"
    for d in (train, val):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: no such folder (expected ImageFolder train/ and val/ under {root})")
    return train, val


# ----------------------------------------------------------------------------- distributed


def _dist_setup() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def _all_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(t)
    return t


# ----------------------------------------------------------------------------- models


class Student(nn.Module):
    """The searched net plus the 1x1 projection of its 1/16 feature map to the teacher's."""

    def __init__(self, net: mbv2.MBV2Net, proj_in: int | None, proj_out: int | None, downsample: int):
        super().__init__()
        self.net = net
        self.downsample = downsample
        self.proj = nn.Conv2d(proj_in, proj_out, 1) if proj_in and proj_out else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feat = None
        h = x
        for m in self.net.layers:
            h = m(h)
            if feat is None and self.proj is not None and x.shape[-1] // h.shape[-1] >= self.downsample:
                feat = self.proj(h)
        logits = self.net.classifier(self.net.pool(h))
        return logits, feat


def _stage_channels(net: mbv2.MBV2Net, resolution: int, downsample: int) -> int | None:
    x = torch.zeros(1, 3, resolution, resolution)
    net.eval()  # batch of one: train-mode BN would reject the SE's 1x1 maps
    try:
        with torch.no_grad():
            for m in net.layers:
                x = m(x)
                if resolution // x.shape[-1] >= downsample:
                    return int(x.shape[1])
    finally:
        net.train()
    return None


def build_teacher(s: TrainSettings, device: torch.device):
    if not s.teacher:
        return None, None
    timm = import_timm()
    pretrained = s.teacher_checkpoint is None
    kw = {"checkpoint_path": s.teacher_checkpoint} if s.teacher_checkpoint else {}
    teacher = timm.create_model(s.teacher, pretrained=pretrained, num_classes=s.num_classes,
                                features_only=False, **kw).to(device).eval()
    teacher.requires_grad_(False)
    return teacher, _teacher_stage(teacher, s)


def _feature_dicts(teacher: nn.Module) -> list[dict]:
    info = getattr(teacher, "feature_info", [])
    return info.get_dicts() if hasattr(info, "get_dicts") else list(info)


def _teacher_stage(teacher: nn.Module, s: TrainSettings) -> int:
    """Index of the teacher block whose output is at 1/``feature_downsample``."""
    for i, d in enumerate(_feature_dicts(teacher)):
        if d["reduction"] >= s.feature_downsample:
            return i
    raise ValueError(f"teacher {s.teacher} has no 1/{s.feature_downsample} feature map")


def teacher_outputs(teacher: nn.Module, stage: int, x: torch.Tensor, size: int,
                    out_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        feats = teacher.forward_intermediates(x, indices=[stage], intermediates_only=True)[0]
        logits = teacher(x)
    return logits, nn.functional.interpolate(feats, size=out_hw, mode="bilinear", align_corners=False)


# ----------------------------------------------------------------------------- training


def _loaders(s: TrainSettings, train_dir: Path, val_dir: Path, world: int, device: torch.device):
    import_timm()
    from timm.data import create_dataset, create_loader

    train_ds = create_dataset("", root=str(train_dir), split="train", is_training=True)
    val_ds = create_dataset("", root=str(val_dir), split="validation")
    common = dict(input_size=(3, s.resolution, s.resolution), num_workers=s.workers, distributed=world > 1,
                  device=device, use_prefetcher=False, persistent_workers=False)
    train = create_loader(train_ds, batch_size=s.batch_size_per_gpu, is_training=True,
                          auto_augment=s.auto_augment, re_prob=s.re_prob, **common)
    val = create_loader(val_ds, batch_size=s.batch_size_per_gpu, is_training=False, **common)
    return train, val


def _save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _write_log(rows: list[dict], path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


def evaluate(model: Student, loader, device: torch.device) -> tuple[float, float, float]:
    from timm.utils import accuracy

    model.eval()
    tot = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top1, top5, n
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits, _ = model(x)
            k = min(5, logits.shape[1])
            a1, a5 = accuracy(logits, y, topk=(1, k))
            n = y.shape[0]
            tot += torch.tensor([nn.functional.cross_entropy(logits, y).item() * n, a1.item() * n,
                                 a5.item() * n, n], dtype=torch.float64, device=device)
    tot = _all_sum(tot)
    n = max(tot[3].item(), 1.0)
    return tot[0].item() / n, tot[1].item() / n, tot[2].item() / n


def train(structure: str, data: str | None, out_dir: str | Path, s: TrainSettings) -> dict:
    """Train ``structure``; resumable. Rank 0 writes ``out_dir``/{checkpoint.pth, train_log.csv,
    metrics.json}; the figures come from :func:`plot_curves`."""
    train_dir, val_dir = check_data(data)
    rank, world, device = _dist_setup()
    import_timm()
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import ModelEmaV3

    out = Path(out_dir)
    torch.manual_seed(s.seed + rank)
    struct = mbv2.parse(structure)
    net = mbv2.build_network(struct, s.num_classes, use_se=s.use_se)
    kaiming_init_(net, torch.Generator().manual_seed(s.seed))
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = s.bn_momentum
    teacher, stage = build_teacher(s, device)
    proj_out = None
    if teacher is not None and s.teacher_feature_weight > 0:
        proj_out = _feature_dicts(teacher)[stage]["num_chs"]
    proj_in = _stage_channels(net, s.resolution, s.feature_downsample) if proj_out else None
    model = Student(net, proj_in, proj_out, s.feature_downsample).to(device)

    train_loader, val_loader = _loaders(s, train_dir, val_dir, world, device)
    lr = s.lr_per_256 * s.batch_size_per_gpu * world / 256
    optimizer = create_optimizer_v2(model, "sgd", lr=lr, weight_decay=s.weight_decay, momentum=s.momentum,
                                    nesterov=True)
    steps = len(train_loader) if not s.max_steps_per_epoch else min(len(train_loader), s.max_steps_per_epoch)
    scheduler, _ = create_scheduler_v2(optimizer, sched="cosine", num_epochs=s.epochs, warmup_epochs=s.warmup_epochs,
                                       min_lr=0.0, warmup_lr=lr * 0.01, step_on_epochs=False,
                                       updates_per_epoch=max(steps, 1))
    mixup = Mixup(mixup_alpha=s.mixup_alpha, label_smoothing=s.label_smoothing, num_classes=s.num_classes) \
        if s.mixup_alpha > 0 else None
    criterion = SoftTargetCrossEntropy()
    ema = ModelEmaV3(model, decay=s.ema_decay) if s.ema_decay > 0 else None

    # One checkpoint per (structure, recipe, world size): a changed setting trains afresh
    # instead of resuming a net trained under another recipe; the same settings resume.
    ckpt_path = out / f"run-{run_key(structure, s, world)}" / "checkpoint.pth"
    start, rows = 0, []
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        if ema is not None and ck.get("ema") is not None:
            ema.load_state_dict(ck["ema"])
        start, rows = ck["epoch"] + 1, ck["log"]
        if rank == 0:
            print(f"resumed from {ckpt_path} after epoch {ck['epoch']}", flush=True)
    ddp = nn.parallel.DistributedDataParallel(model) if world > 1 else model

    for epoch in range(start, s.epochs):
        t0 = time.perf_counter()
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        ddp.train()
        loss_sum = torch.zeros(2, dtype=torch.float64, device=device)
        for step, (x, y) in enumerate(train_loader):
            if step >= steps:
                break
            x, y = x.to(device), y.to(device)
            if mixup is not None:
                x, target = mixup(x, y)
            else:
                target = nn.functional.one_hot(y, s.num_classes).float() * (1 - s.label_smoothing) \
                    + s.label_smoothing / s.num_classes
            logits, feat = ddp(x)
            loss = criterion(logits, target)
            if teacher is not None:
                t_logits, t_feat = teacher_outputs(teacher, stage, x, s.teacher_resolution,
                                                   feat.shape[-2:] if feat is not None else (1, 1))
                loss = loss + s.teacher_logit_weight * criterion(logits, t_logits.softmax(-1))
                if feat is not None:
                    loss = loss + s.teacher_feature_weight * nn.functional.mse_loss(feat, t_feat)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step_update(epoch * steps + step + 1)
            if ema is not None:
                ema.update(model)
            loss_sum += torch.tensor([loss.item() * y.shape[0], y.shape[0]], dtype=torch.float64, device=device)
        loss_sum = _all_sum(loss_sum)
        val_loss, top1, top5 = evaluate(ema.module if ema is not None else model, val_loader, device)
        rows.append({"epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                     "train_loss": loss_sum[0].item() / max(loss_sum[1].item(), 1.0), "val_loss": val_loss,
                     "top1": top1, "top5": top5, "epoch_seconds": time.perf_counter() - t0})
        if rank == 0:
            _save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "ema": ema.state_dict() if ema is not None else None,
                                         "epoch": epoch, "log": rows, "settings": asdict(s)})
            _write_log(rows, out / "train_log.csv")
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "structure": mbv2.to_str(struct), "epochs": s.epochs, "world_size": world,
        "top1": rows[-1]["top1"] if rows else math.nan, "top5": rows[-1]["top5"] if rows else math.nan,
        "params": sum(p.numel() for p in net.parameters()),
        "flops": mbv2.flops_reference(struct, s.resolution, s.num_classes),
        "gpu_hours": sum(r["epoch_seconds"] for r in rows) * world / 3600 if device.type == "cuda" else None,
        "device": device.type, "settings": asdict(s),
    }
    if rank == 0:
        write_text(json.dumps(result, indent=1) + "\n", out / "metrics.json")
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return result


def plot_curves(log_csv: str | Path, out_dir: str | Path) -> list[Path]:
    """Loss and accuracy per epoch as ``curves.png``/``curves.svg`` in ``out_dir``."""
    import pandas as pd

    from vkdnw.plotting import plt, save_figure

    df = pd.read_csv(log_csv)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(df["epoch"], df["train_loss"], label="train")
    a.plot(df["epoch"], df["val_loss"], label="val")
    a.set(xlabel="epoch", ylabel="loss")
    a.legend()
    b.plot(df["epoch"], df["top1"], label="top-1")
    b.plot(df["epoch"], df["top5"], label="top-5")
    b.set(xlabel="epoch", ylabel="accuracy (%)")
    b.legend()
    fig.tight_layout()
    return save_figure(fig, Path(out_dir), "curves")


PAPER_TABLE2 = {"method": "VKDNW_agg (paper)", "flops_M": 480.0, "top1": 78.8, "search_gpu_days": 0.4}


def write_table2(search_summary: str | Path, train_metrics: str | Path | None, out: str | Path) -> None:
    """``table2.csv``: our row (FLOPs and params of the searched net, top-1 when trained, the
    measured search cost) beside the paper's."""
    import pandas as pd

    summ = json.loads(Path(search_summary).read_text())
    struct = mbv2.parse(summ["best_structure"])
    metrics = json.loads(Path(train_metrics).read_text()) if train_metrics else {}
    ours = {
        "method": "VKDNW_agg (ours)",
        "flops_M": summ["best_flops"] / 1e6,
        "params_M": sum(p.numel() for p in mbv2.build_network(struct, 1000, use_se=True).parameters()) / 1e6,
        "top1": metrics.get("top1", math.nan),
        "search_gpu_days": summ.get("gpu_days"),
        "search_iterations": summ["iterations"],
        "search_device": summ["device"],
        "search_wall_hours": summ["wall_seconds"] / 3600,
        "train_epochs": metrics.get("epochs"),
        "train_gpu_hours": metrics.get("gpu_hours"),
        "structure": summ["best_structure"],
    }
    df = pd.DataFrame([ours, PAPER_TABLE2])
    atomic_write(out, lambda tmp: df.to_csv(tmp, index=False))
