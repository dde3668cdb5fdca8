"""The labelled batch that data-dependent saliencies (snip, grasp, fisher, grad_norm) see.

`synthetic`: a seeded N(0, 1) image batch with uniform random labels, the
default, so results are reproducible without any dataset (and labelled so).
`images:<dir>`: real images from a folder with one sub-folder per class (any
format Pillow reads), resized to the network's input; a seeded sample of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

BATCH_SIZE = 64
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def describe(source: str) -> str:
    if source == "synthetic":
        return "seeded synthetic batch (random images and labels)"
    return f"images from {source.removeprefix('images:')}"


def make_batch(
    source: str, input_shape: tuple[int, ...], num_classes: int, seed: int, size: int = BATCH_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for one scoring run; the same for every architecture of that run."""
    gen = torch.Generator().manual_seed(seed)
    if source == "synthetic":
        x = torch.randn((size, *input_shape), generator=gen)
        y = torch.randint(0, num_classes, (size,), generator=gen)
        return x, y
    if source.startswith("images:"):
        return _image_batch(Path(source.removeprefix("images:")), input_shape, size, seed)
    raise ValueError(f"unknown batch source {source!r}; use 'synthetic' or 'images:<dir>'")


def _image_batch(
    root: Path, input_shape: tuple[int, ...], size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    from PIL import Image  # only needed for real images

    classes = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = [
        (f, label)
        for label, folder in enumerate(classes)
        for f in sorted(folder.iterdir())
        if f.suffix.lower() in _IMAGE_SUFFIXES
    ]
    channels, height, width = input_shape
    if not files or channels != 3:
        raise ValueError(f"{root}: need class sub-folders of images for a 3-channel input")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(files), size=min(size, len(files)), replace=False)
    xs, ys = [], []
    for i in pick:
        path, label = files[i]
        img = Image.open(path).convert("RGB").resize((width, height))
        xs.append(torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1))
        ys.append(label)
    x = torch.stack(xs)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (x.std(dim=(0, 2, 3), keepdim=True) + 1e-6)
    return x, torch.tensor(ys)
