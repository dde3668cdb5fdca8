"""The labelled batch that data-dependent saliencies (snip, grasp, fisher, grad_norm) see.

Sources, as given by the user (`--batch`):
- `auto` (the CLI default): `cifar10` when `fetch cifar10` has kept its batch in the
  data folder, else `synthetic`;
- `synthetic`: a seeded N(0, 1) image batch with uniform random labels, so results
  are reproducible without any dataset (and labelled so);
- `cifar10`: the fixed 64 CIFAR-10 test images (class-balanced, seed 0) kept by
  `python -m ssnr_core fetch cifar10`, normalised with CIFAR-10's mean and std and
  resized to the network's input;
- `images:<dir>`: real images from a folder with one sub-folder per class (any format
  Pillow reads), resized to the network's input; a seeded sample of them.

`resolve` turns what the user gave into the cache-key form, once, before a Setup is
made: `none` for data-free saliencies (synflow sees an all-ones input, so the batch
cannot change its numbers), else `synthetic`, `cifar10#<digest>` or
`images:<absolute dir>#<digest>`, the digest covering the images' content, so changed
images give new statistics instead of reusing old ones. `describe` gives the label
every table, plot and file shows.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch

from ssnr_core.data import fetch
from ssnr_core.data.paths import user_path

BATCH_SIZE = 64
NONE = "none"  # the batch key of data-free saliencies
CIFAR10_BATCH = fetch.CIFAR10_BATCH  # kept by `python -m ssnr_core fetch cifar10`
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
_DIGEST = 12  # hex characters of SHA-256 kept in a key


def default_source(data_dir: Path | None) -> str:
    """`cifar10` when its batch is in the data folder, else `synthetic`."""
    found = data_dir is not None and (data_dir / CIFAR10_BATCH).is_file()
    return "cifar10" if found else "synthetic"


def resolve(source: str | None, needs_data: bool, data_dir: Path | None) -> str:
    """The batch key of a run: what the user asked for (`auto`/None, `synthetic`, `cifar10`,
    `images:<dir>`, or an already resolved key), checked, made concrete and
    content-addressed; `none` when the saliency is data-free. Call it before making a
    Setup. ValueError for a bad source, even when the saliency ignores the batch, and for
    a resolved key whose content has changed since."""
    root = data_dir or Path("nowhere")  # no data folder: no CIFAR-10 batch, no relative paths
    if source in (None, "", "auto"):
        source = default_source(data_dir)
    name, _, given = source.partition("#")
    if name == NONE:
        if needs_data:
            raise ValueError("this saliency needs a data batch; use auto, synthetic or cifar10")
        return NONE
    if name == "synthetic":
        key = name
    elif name == "cifar10":
        path = root / CIFAR10_BATCH
        if not path.is_file():
            raise ValueError(
                f"no CIFAR-10 batch at {path}; run `python -m ssnr_core fetch cifar10` "
                "or use --batch synthetic"
            )
        key = f"cifar10#{_cifar10_digest(path)}" if needs_data or given else name
    elif name.startswith("images:"):
        folder = user_path(name.removeprefix("images:"), "--batch images:").resolve()
        files = _image_files(folder)
        key = f"images:{folder}#{_files_digest(folder, files)}" if needs_data or given else name
    else:
        raise ValueError(
            f"unknown batch source {source!r}; use auto, synthetic, cifar10 or images:<dir>"
        )
    if given and key.partition("#")[2] != given:
        raise ValueError(f"the batch {name} changed since its key {source} was made")
    return key if needs_data else NONE


def describe(source: str, seed: int = 0) -> str:
    """The human label of a (resolved) batch source."""
    name = source.split("#", 1)[0]
    if name == NONE:
        return "no batch (data-free saliency: an all-ones input)"
    if name == "synthetic":
        return f"synthetic noise batch ({BATCH_SIZE} random images and labels, seed {seed})"
    if name == "cifar10":
        return f"CIFAR-10, {BATCH_SIZE} images, seed 0"
    if name.startswith("images:"):
        folder = Path(name.removeprefix("images:"))
        try:
            n = min(BATCH_SIZE, len(_image_files(folder)))
        except ValueError:
            return f"images from {folder}"
        return f"images from {folder} ({n} images)"
    return source


def make_batch(
    source: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    seed: int,
    size: int = BATCH_SIZE,
    data_dir: Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for one scoring run; the same for every architecture of that run. A digest
    in `source` is checked against the content: changed images fail, never mislabel."""
    name, _, digest = source.partition("#")
    if name == "synthetic":
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((size, *input_shape), generator=gen)
        y = torch.randint(0, num_classes, (size,), generator=gen)
        return x, y
    if name == "cifar10":
        path = data_dir / CIFAR10_BATCH if data_dir else None
        if path is None or not path.is_file():
            raise ValueError(
                f"no CIFAR-10 batch at {path}; run `python -m ssnr_core fetch cifar10`"
            )
        if digest and _cifar10_digest(path) != digest:
            raise ValueError(f"{path} changed since this run's key was made")
        return _cifar10_batch(path, input_shape, num_classes, size)
    if name.startswith("images:"):
        folder = Path(name.removeprefix("images:"))
        files = _image_files(folder)
        if digest and _files_digest(folder, files) != digest:
            raise ValueError(f"the images in {folder} changed since this run's key was made")
        return _image_batch(folder, files, input_shape, size, seed)
    raise ValueError(f"unknown batch source {source!r}; use synthetic, cifar10 or images:<dir>")


def _cifar10_digest(path: Path) -> str:
    """Of the arrays, not the file: np.savez stamps zip entries with the time."""
    images, labels = fetch.load_cifar10_batch(path)
    h = hashlib.sha256(images.tobytes())
    h.update(labels.astype("<i8").tobytes())
    return h.hexdigest()[:_DIGEST]


def _cifar10_batch(
    path: Path, input_shape: tuple[int, ...], num_classes: int, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images scaled to [0, 1], normalised with CIFAR-10's mean and std, then
    resized (bilinear, antialiased) to the input: 32x32 as is, 16x16 for ImageNet16-120,
    256x256 for TNB101. An input of 3*g*g channels (TNB101 jigsaw: 27x64x64) gets the
    image resized to g*H x g*W and cut into g x g tiles, stacked on channels in raster
    order. Labels are the CIFAR-10 classes (0-9, modulo smaller heads)."""
    images, labels = fetch.load_cifar10_batch(path)
    x = torch.from_numpy(images[:size].astype(np.float32) / 255.0)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    channels, height, width = input_shape
    grid = round((channels / 3) ** 0.5)
    if channels % 3 or grid * grid * 3 != channels:
        raise ValueError(f"the CIFAR-10 batch cannot feed a {channels}-channel input")
    x = _resize(x, grid * height, grid * width)
    if grid > 1:  # (B, 3, gH, gW) -> (B, g*g*3, H, W), tile t in channels 3t..3t+2
        x = x.unfold(2, height, height).unfold(3, width, width)  # B, 3, g, g, H, W
        x = x.permute(0, 2, 3, 1, 4, 5).reshape(len(x), channels, height, width)
    y = torch.from_numpy(labels[:size]) % num_classes
    return x.contiguous(), y


def _resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if x.shape[-2:] == (height, width):
        return x
    return torch.nn.functional.interpolate(
        x, size=(height, width), mode="bilinear", align_corners=False, antialias=True
    )


def _image_files(root: Path) -> list[tuple[Path, int]]:
    """(file, label) of every image in the class sub-folders, in a fixed order."""
    classes = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = [
        (f, label)
        for label, folder in enumerate(classes)
        for f in sorted(folder.iterdir())
        if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES
    ]
    if not files:
        raise ValueError(f"{root}: need class sub-folders of images (png, jpg, ...)")
    return files


def _files_digest(root: Path, files: list[tuple[Path, int]]) -> str:
    """SHA-256 over the sorted (relative path, size, content SHA-256) of every image."""
    h = hashlib.sha256()
    for path, _ in sorted(files):
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        h.update(
            f"{path.relative_to(root).as_posix()}\0{path.stat().st_size}\0{content}\n".encode()
        )
    return h.hexdigest()[:_DIGEST]


def _image_batch(
    root: Path, files: list[tuple[Path, int]], input_shape: tuple[int, ...], size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    channels, height, width = input_shape
    if channels != 3:
        raise ValueError(f"{root}: image folders feed 3-channel inputs only, not {channels}")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(files), size=min(size, len(files)), replace=False)
    xs, ys = [], []
    for i in pick:
        path, label = files[i]
        img = _read_image(path, width, height)
        xs.append(torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1))
        ys.append(label)
    x = torch.stack(xs)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (x.std(dim=(0, 2, 3), keepdim=True) + 1e-6)
    return x, torch.tensor(ys)


def _read_image(path: Path, width: int, height: int):
    """An RGB image resized to (width, height); a decompression bomb (over Pillow's pixel
    limit), a truncated or an unreadable file is a ValueError naming the file."""
    from PIL import Image  # only needed for real images

    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises only at twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return img.convert("RGB").resize((width, height))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{path}: refused, too many pixels for an image ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{path}: unreadable or truncated image ({exc})") from None
