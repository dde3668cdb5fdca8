import numpy as np
import pytest
import torch
from PIL import Image

from ssnr_core import batches, evaluation, scoring
from ssnr_core.setup import Setup


def test_synthetic_batch_is_seeded():
    x1, y1 = batches.make_batch("synthetic", (3, 8, 8), 10, seed=1, size=6)
    x2, y2 = batches.make_batch("synthetic", (3, 8, 8), 10, seed=1, size=6)
    x3, _ = batches.make_batch("synthetic", (3, 8, 8), 10, seed=2, size=6)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    assert x1.shape == (6, 3, 8, 8) and int(y1.max()) < 10


def test_image_folder_batch_feeds_a_data_dependent_saliency(tmp_path, empty_cache):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            pixels = rng.integers(0, 255, size=(40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / label / f"{i}.png")
    x, y = batches.make_batch(f"images:{tmp_path}", (3, 32, 32), 10, seed=0)
    assert x.shape == (6, 3, 32, 32) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    setup = Setup("nb201", "cifar10", "snip", batch=f"images:{tmp_path}")
    archs = evaluation.sample("nb201", "cifar10", 2, 0)
    stats = scoring.score(setup, archs, empty_cache)
    assert all(np.isfinite(s).all() for s in stats.values())
    assert (
        empty_cache.count(setup) == 2 and empty_cache.count(Setup("nb201", "cifar10", "snip")) == 0
    )


def test_bad_batch_sources(tmp_path):
    with pytest.raises(ValueError, match="unknown batch source"):
        batches.make_batch("cifar", (3, 8, 8), 10, 0)
    with pytest.raises(ValueError, match="class sub-folders"):
        batches.make_batch(f"images:{tmp_path}", (3, 8, 8), 10, 0)
