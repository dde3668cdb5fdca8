import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import LOCAL
from PIL import Image

from ssnr_core import cli
from ssnr_core.proxies import batches
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.studies import evaluation


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
    stats = scoring.score(setup, archs, empty_cache, settings=LOCAL)
    assert all(np.isfinite(s).all() for s in stats.values())
    assert (
        empty_cache.count(setup) == 2 and empty_cache.count(Setup("nb201", "cifar10", "snip")) == 0
    )


def test_bad_batch_sources(tmp_path):
    with pytest.raises(ValueError, match="unknown batch source"):
        batches.make_batch("cifar", (3, 8, 8), 10, 0)
    with pytest.raises(ValueError, match="class sub-folders"):
        batches.make_batch(f"images:{tmp_path}", (3, 8, 8), 10, 0)


# ---- resolve: cache keys that capture what changes the numbers ----------------------


def _image_folder(root, n=3, size=40):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def _cifar_batch(data_dir, n=64):
    rng = np.random.default_rng(0)
    path = data_dir / batches.CIFAR10_BATCH
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(
            fh,
            images=rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
            labels=np.arange(n, dtype=np.uint8) % 10,
        )
    return path


def test_resolve_keys_images_by_content(tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    key = batches.resolve(f"images:{folder}", needs_data=True, data_dir=tmp_path)
    assert key.startswith(f"images:{folder.resolve()}#") and len(key.split("#")[1]) == 12
    assert batches.resolve(f"images:{folder}", True, tmp_path) == key  # stable
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(folder / "cat" / "0.png")
    changed = batches.resolve(f"images:{folder}", True, tmp_path)
    assert changed != key
    with pytest.raises(ValueError, match="changed since"):  # a stale key never mislabels
        batches.make_batch(key, (3, 8, 8), 10, 0)
    x, _ = batches.make_batch(changed, (3, 8, 8), 10, 0)
    assert x.shape == (6, 3, 8, 8)


def test_resolve_data_free_is_none_but_still_checks(tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    for source in ("synthetic", "auto", None, f"images:{folder}"):
        assert batches.resolve(source, needs_data=False, data_dir=tmp_path) == batches.NONE
    for bad in ("foo", f"images:{tmp_path / 'nonexistent'}", "cifar10"):
        with pytest.raises(ValueError):
            batches.resolve(bad, needs_data=False, data_dir=tmp_path)


def test_auto_picks_cifar10_once_fetched(tmp_path):
    assert batches.resolve("auto", True, tmp_path) == "synthetic"
    _cifar_batch(tmp_path)
    key = batches.resolve("auto", True, tmp_path)
    assert key.startswith("cifar10#") and batches.resolve("cifar10", True, tmp_path) == key
    assert batches.describe(key) == "CIFAR-10, 64 images, seed 0"


def test_describe_labels():
    assert batches.describe("synthetic", seed=3) == (
        "synthetic noise batch (64 random images and labels, seed 3)"
    )
    assert batches.describe("none").startswith("no batch")


def test_describe_image_folder(tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    key = batches.resolve(f"images:{folder}", True, tmp_path)
    assert batches.describe(key) == f"images from {folder.resolve()} (6 images)"


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 16, 16), (3, 256, 256), (27, 64, 64)], ids=str)
def test_cifar10_batch_fits_every_input(tmp_path, shape):
    path = _cifar_batch(tmp_path)
    key = batches.resolve("cifar10", True, tmp_path)
    x, y = batches.make_batch(key, shape, 10, seed=5, data_dir=tmp_path)
    assert x.shape == (64, *shape) and x.dtype == torch.float32 and torch.isfinite(x).all()
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    assert y.tolist() == labels.tolist()
    if shape == (3, 32, 32):  # normalised with CIFAR-10's mean and std, nothing else
        mean = torch.tensor(batches.CIFAR10_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(batches.CIFAR10_STD).view(1, 3, 1, 1)
        back = (x * std + mean) * 255
        assert torch.allclose(back, torch.from_numpy(images).float(), atol=1e-3)
    if shape == (27, 64, 64):  # tile 0 is the top-left of the 192x192 image
        whole, _ = batches.make_batch(key, (3, 192, 192), 10, 0, data_dir=tmp_path)
        assert torch.allclose(x[:, :3], whole[:, :, :64, :64])
        assert torch.allclose(x[:, 24:], whole[:, :, 128:, 128:])
    _, y2 = batches.make_batch(key, shape, 3, seed=5, data_dir=tmp_path)
    assert int(y2.max()) < 3


def test_cifar10_snip_scores_and_keys_apart(tmp_path, empty_cache, monkeypatch):
    archs = evaluation.sample("nb201", "cifar10", 2, 0, "naslib")
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path))
    _cifar_batch(tmp_path)
    key = batches.resolve("auto", True, tmp_path)
    setup = Setup("nb201", "ImageNet16-120", "snip", batch=key)
    stats = scoring.score(setup, archs, empty_cache, settings=replace(LOCAL, data_dir=tmp_path))
    assert all(np.isfinite(s).all() for s in stats.values())
    assert empty_cache.count(setup) == 2
    assert empty_cache.count(Setup("nb201", "ImageNet16-120", "snip")) == 0


# ---- hostile images ------------------------------------------------------------------


def test_decompression_bomb_is_one_clear_error(tmp_path, monkeypatch):
    folder = _image_folder(tmp_path / "imgs")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40x40 = 1600 > 2 * 100: a bomb
    with pytest.raises(ValueError, match=r"\.png: refused, too many pixels"):
        batches.make_batch(f"images:{folder}", (3, 8, 8), 10, 0)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # over the limit: a warning, refused
    with pytest.raises(ValueError, match="too many pixels"):
        batches.make_batch(f"images:{folder}", (3, 8, 8), 10, 0)


def test_truncated_or_fake_image_is_one_clear_error(tmp_path):
    folder = _image_folder(tmp_path / "imgs", n=1)
    bad = folder / "dog" / "0.png"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"dog/0\.png: unreadable or truncated"):
        batches.make_batch(f"images:{folder}", (3, 8, 8), 10, 0)
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"dog/0\.png: unreadable"):
        batches.make_batch(f"images:{folder}", (3, 8, 8), 10, 0)


def test_cli_rejects_bad_batches_in_one_line(tmp_path, capsys, empty_cache):
    for bad in ("foo", f"images:{tmp_path / 'nonexistent'}"):
        code = cli.main(["score", "--saliency", "synflow", "--sample", "1", "--batch", bad])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("error:")


def test_cli_bomb_in_folder_is_one_line(tmp_path, capsys, empty_cache, monkeypatch):
    folder = _image_folder(tmp_path / "imgs")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    args = ["score", "--saliency", "snip", "--sample", "1", "--batch", f"images:{folder}"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]  # on its own line
    assert "too many pixels" in line and ".png" in line and "Traceback" not in err


def test_evaluate_carries_the_batch_label(capsys, empty_cache):
    args = ["evaluate", "--saliency", "grad_norm", "--sample", "3", "--truth", "naslib"]
    assert cli.main([*args, "--n-boot", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["batch_label"] == "synthetic noise batch (64 random images and labels, seed 0)"
    assert cli.main([*args, "--n-boot", "5", "--saliency", "synflow"]) == 0
    assert "batch: no batch (data-free" in capsys.readouterr().out


def test_resolved_keys_round_trip(tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    key = batches.resolve(f"images:{folder}", True, tmp_path)
    assert batches.resolve(key, True, tmp_path) == key  # e.g. passed on to a background job
    assert batches.resolve("none", False, tmp_path) == batches.NONE
    with pytest.raises(ValueError, match="needs a data batch"):
        batches.resolve("none", True, tmp_path)
    (folder / "dog" / "0.png").unlink()
    with pytest.raises(ValueError, match="changed since"):
        batches.resolve(key, True, tmp_path)
