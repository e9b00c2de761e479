"""Input batches for the zero-cost proxies: real images from the NB201 datasets, or noise.

Real data comes from the files NB201 itself trains on:

* ``cifar10``: the ``cifar-10-batches-py`` folder (``data_batch_1`` .. ``data_batch_5``);
* ``cifar100``: the ``cifar-100-python`` folder (``train``, with ``fine_labels``);
* ``ImageNet16-120``: NB201's downsampled ImageNet folder (``train_data_batch_1`` .. ``_10``,
  16x16 images, labels 1..1000 of which classes 1..120 are kept, as NB201 does).

Images are scaled to [0, 1] and normalised with the per-channel mean and std NB201's
training pipeline uses; no augmentation. Which images a net sees is drawn from the net's own
random stream (run seed, dataset, arch), so a net rescored alone sees the same batch.

Without a data path the batch is white noise ``randn(B, 3, R, R)`` with uniformly random
labels, and the batch says so (``kind == "random"``); every score row records it.

A *surrogate* folder (:func:`write_surrogate_set`) has the same files, filled with patches of
the two photos scikit-learn ships, at the dataset's resolution, with uniformly random labels.
It is not the dataset: it measures how far natural-image statistics alone move a proxy away
from its white-noise score where the real folders are not at hand. Its pickles carry a
``surrogate`` key and its batches say ``kind == "surrogate"``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from vkdnw.io import atomic_write
from vkdnw.rng import generator
from vkdnw.spaces.nb201 import dataset_info

# NB201 / xautodl normalisation constants (pixel units / 255).
MEAN_STD = {
    "cifar10": ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
    "ImageNet16-120": ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
}
# Key that marks a surrogate folder's pickles (the official files never have it).
SURROGATE_KEY = "surrogate"
TRAIN_FILES = {
    "cifar10": [f"data_batch_{i}" for i in range(1, 6)],
    "cifar100": ["train"],
    "ImageNet16-120": [f"train_data_batch_{i}" for i in range(1, 11)],
}


@dataclass(frozen=True)
class Batch:
    x: torch.Tensor  # (B, 3, R, R) float32
    y: torch.Tensor  # (B,) int64 labels in [0, num_classes)
    kind: str  # "real", "surrogate" or "random"


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as fh:
        d = pickle.load(fh, encoding="latin1")
    if not isinstance(d, dict) or "data" not in d:
        raise ValueError(f"{path}: not a dataset pickle with a 'data' array")
    return d


@lru_cache(maxsize=4)
def load_train_set(dataset: str, root: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(images uint8 (N, 3, R, R), labels int64 (N,), kind) of a dataset's training split;
    kind is "real", or "surrogate" for a folder :func:`write_surrogate_set` wrote."""
    info = dataset_info(dataset)
    folder = Path(root)
    if not folder.is_dir():
        raise ValueError(f"data path for {dataset} is not a directory: {folder}")
    images, labels, kinds = [], [], set()
    for name in TRAIN_FILES[dataset]:
        path = folder / name
        if not path.is_file():
            raise ValueError(f"data path for {dataset}: missing {path}")
        d = _unpickle(path)
        kinds.add("surrogate" if SURROGATE_KEY in d else "real")
        y = np.asarray(d.get("fine_labels", d.get("labels")), dtype=np.int64)
        x = np.asarray(d["data"], dtype=np.uint8)
        if dataset == "ImageNet16-120":
            keep = (y >= 1) & (y <= 120)  # NB201 keeps the first 120 classes, 1-based
            x, y = x[keep], y[keep] - 1
        images.append(x)
        labels.append(y)
    r = info["resolution"]
    x = np.concatenate(images).reshape(-1, 3, r, r)
    y = np.concatenate(labels)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"data path for {dataset}: {len(x)} images but {len(y)} labels")
    if y.min() < 0 or y.max() >= info["num_classes"]:
        raise ValueError(f"data path for {dataset}: labels outside [0, {info['num_classes']})")
    if len(kinds) > 1:
        raise ValueError(f"data path for {dataset}: mixes surrogate and real files: {folder}")
    return x, y, kinds.pop()


def _normalise(x: np.ndarray, dataset: str) -> torch.Tensor:
    mean, std = (torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1) / 255.0 for v in MEAN_STD[dataset])
    return (torch.from_numpy(x).float() / 255.0 - mean) / std


def input_batches(arch_str: str, dataset: str, seed: int, batch_size: int, n_batches: int = 1,
                  data_path: str | None = None, device: torch.device | str = "cpu") -> list[Batch]:
    """``n_batches`` batches of ``batch_size`` for one net: real images if ``data_path`` is
    set, else noise with random labels. Deterministic in (seed, dataset, arch)."""
    info = dataset_info(dataset)
    r, c = info["resolution"], info["num_classes"]
    out: list[Batch] = []
    if data_path:
        images, labels, kind = load_train_set(dataset, str(data_path))
        g = generator(seed, dataset, arch_str, "data")
        idx = torch.randperm(len(labels), generator=g)[: batch_size * n_batches].numpy()
        if len(idx) < batch_size * n_batches:
            raise ValueError(f"{dataset}: {len(labels)} images, fewer than {batch_size * n_batches} needed")
        for k in range(n_batches):
            sel = np.sort(idx[k * batch_size : (k + 1) * batch_size])
            out.append(Batch(_normalise(images[sel], dataset).to(device),
                             torch.from_numpy(labels[sel]).to(device), kind))
        return out
    # Same stream as VKDNW's random input, so the first noise batch is the one VKDNW saw.
    g = generator(seed, dataset, arch_str, "input")
    gy = generator(seed, dataset, arch_str, "labels")
    for _ in range(n_batches):
        x = torch.randn(batch_size, 3, r, r, generator=g)
        y = torch.randint(0, c, (batch_size,), generator=gy)
        out.append(Batch(x.to(device), y.to(device), "random"))
    return out


def surrogate_images(resolution: int, n_images: int, seed: int) -> np.ndarray:
    """``n_images`` uint8 patches (N, 3, R, R) of scikit-learn's two sample photos: square
    crops of random side (1x to 4x R) at random places, area-downsampled to R x R, so that
    the batch has natural images' spatial correlations, colours and edges."""
    from sklearn.datasets import load_sample_images  # bundled with scikit-learn: no download

    photos = [torch.from_numpy(np.array(im)).permute(2, 0, 1).float() for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    out = np.empty((n_images, 3, resolution, resolution), dtype=np.uint8)
    for k in range(n_images):
        photo = photos[rng.integers(len(photos))]
        side = int(rng.integers(resolution, 4 * resolution + 1))
        i = int(rng.integers(0, photo.shape[1] - side + 1))
        j = int(rng.integers(0, photo.shape[2] - side + 1))
        crop = photo[None, :, i : i + side, j : j + side]
        small = torch.nn.functional.interpolate(crop, size=(resolution, resolution), mode="area")
        out[k] = small[0].round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def write_surrogate_set(dataset: str, out: str | Path, n_images: int = 2000, seed: int = 0) -> Path:
    """Write a surrogate training folder for ``dataset`` in the official pickle layout (the
    files :func:`load_train_set` reads), each file written atomically."""
    info = dataset_info(dataset)
    r, c = info["resolution"], info["num_classes"]
    files = TRAIN_FILES[dataset]
    if n_images < len(files):
        raise ValueError(f"surrogate {dataset}: need at least {len(files)} images, got {n_images}")
    x = surrogate_images(r, n_images, seed).reshape(n_images, -1)
    y = np.random.default_rng([seed, 1]).integers(0, c, n_images)
    # Each format's own label key and base: CIFAR-100 "fine_labels", ImageNet16 1-based.
    key = "fine_labels" if dataset == "cifar100" else "labels"
    base = 1 if dataset == "ImageNet16-120" else 0
    folder = Path(out)
    for name, part in zip(files, np.array_split(np.arange(n_images), len(files))):
        d = {"data": x[part], key: (y[part] + base).tolist(), SURROGATE_KEY: "scikit-learn sample photos"}
        atomic_write(folder / name, lambda tmp, d=d: tmp.write_bytes(pickle.dumps(d)))
    return folder
