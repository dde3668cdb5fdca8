"""Any PyTorch model: `score_model` against synflow's conservation law and an independent
float64 loop, the model zoo against torchvision's published sizes, and the `model` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import reference_synflow
from torch import nn

import ssnr_core
from ssnr_core import cli
from ssnr_core.proxies import aggregation
from ssnr_core.proxies.models import load, score_model
from ssnr_core.spaces import zoo

# Conv2d + Linear layers of each torchvision model (counted in torchvision 0.28's builders).
LAYERS = {
    "vgg16": 16,
    "resnet18": 21,
    "resnet50": 54,
    "mobilenet_v2": 53,
    "mobilenet_v3_large": 64,
    "mobilenet_v3_small": 54,
    "efficientnet_b0": 82,
    "vit_b_16": 38,  # conv_proj, 12 x (attention out_proj, two MLP Linears), the head
}
# torchvision's published parameter counts (`_meta["num_params"]` of the IMAGENET1K weights)
PUBLISHED = {
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "vit_b_16": 86_567_656,
}


def chain(bias: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=bias),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 32, bias=bias),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(32, 10, bias=bias),
    )


def test_the_public_api_is_named_in_the_package():
    assert ssnr_core.score_model is score_model
    assert "score_model" in ssnr_core.__all__


def test_a_bias_free_chain_conserves_synflow_in_every_layer():
    model = chain()
    found = score_model(model, (3, 8, 8))
    # R = the summed output of |θ| on an all-ones input (BN bypassed): every layer's
    # saliency sums to R in a bias-free chain of positively homogeneous layers.
    net = chain().double()
    net[3] = nn.Identity()
    net[8] = nn.Identity()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
        r = float(net(torch.ones(1, 3, 8, 8, dtype=torch.float64)).sum())
    sums = found.stats[:, aggregation.SUM]
    assert len(sums) == 4 and r > 0
    np.testing.assert_allclose(sums, r, rtol=1e-12)
    assert found.scores["sum"] == pytest.approx(4 * r, rel=1e-6)


def test_it_equals_the_independent_float64_loop_and_leaves_the_model_alone():
    model = chain(bias=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = score_model(model, (3, 8, 8))
    reference = chain(bias=True).eval()  # eval: no Dropout (BN is bypassed anyway)
    expected = aggregation.layer_stats(reference_synflow(reference, (3, 8, 8)))
    np.testing.assert_allclose(found.stats, expected, rtol=1e-10)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model[0].weight.dtype == torch.float32  # scored on a float64 copy
    assert model[8].training  # Dropout back in train mode
    layers = aggregation.per_layer(found.stats)
    table = found.table()
    assert list(table.index) == ["0", "2", "6", "9"]
    np.testing.assert_allclose(table["snr"], layers["snr"])
    assert table.loc["6", "kind"] == "Linear 256->32"


def test_data_dependent_saliencies_take_a_batch_or_make_a_synthetic_one():
    model = chain()
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    given = score_model(model, (3, 8, 8), saliency="snip", batch=(x, y), batch_label="four")
    made = score_model(model, (3, 8, 8), saliency="snip")
    assert given.batch == "four" and "synthetic" in made.batch
    for found in (given, made):
        assert np.isfinite(found.stats).all() and (found.stats[:, aggregation.SUM] > 0).all()
    assert not np.allclose(given.stats, made.stats)


def test_overflow_in_float64_is_one_clear_message():
    layers = [nn.Linear(8, 8, bias=False) for _ in range(24)]
    for layer in layers:
        nn.init.constant_(layer.weight, 1e15)  # R ~ 8^24 * 1e360: beyond float64
    with pytest.raises(ValueError, match="synflow overflows float64"):
        score_model(nn.Sequential(*layers), (8,))


@pytest.mark.parametrize(
    "shape, message",
    [((), "1 to 4 sizes"), ((3, 0, 8), "1 to 4 sizes"), (("a", 2), "integers"), ((3, 9, 9), "")],
)
def test_bad_input_shapes_and_models(shape, message):
    with pytest.raises(ValueError, match=message or "cannot take a 3x9x9 input"):
        score_model(nn.Sequential(nn.Flatten(), nn.Linear(10, 2)), shape)
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        score_model(nn.Sequential(nn.ReLU()), (3,))


@pytest.mark.parametrize("name", list(zoo.BUILDERS))
def test_the_zoo_has_torchvisions_sizes_and_layer_counts(name):
    with torch.device("meta"):  # shapes only
        model = zoo.build(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name] == zoo.PARAMS[name]
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == LAYERS[name]


@pytest.mark.parametrize(
    "name, shape",
    [
        ("vgg16", (3, 32, 32)),
        ("resnet18", (3, 32, 32)),
        ("resnet50", (3, 32, 32)),
        ("mobilenet_v2", (3, 32, 32)),
        ("mobilenet_v3_small", (3, 32, 32)),
        ("efficientnet_b0", (3, 32, 32)),
        ("vit_b_16", (3, 224, 224)),
    ],
)
def test_synflow_is_finite_for_the_torchvision_models(name, shape, single_thread):
    model, usual, _ = load(f"torchvision:{name}")
    assert usual == (3, 224, 224)
    found = score_model(model, shape, name=name)
    assert len(found.layers) == LAYERS[name]
    assert np.isfinite(found.stats).all()
    assert all(np.isfinite(v) for v in found.scores.values())
    if name == "vit_b_16":  # torchvision zero-initialises the head: no path carries signal
        assert found.dead_layers() == list(found.layers)
    elif name == "vgg16":  # no BN, zero biases: every layer carries R (conservation)
        sums = found.stats[:, aggregation.SUM]
        np.testing.assert_allclose(sums, sums[0], rtol=1e-9)
        assert found.scores["sum"] > 0 and not found.dead_layers()


def test_model_command_prints_the_table_and_the_three_labelled_scores(capsys):
    assert cli.main(["model", "torchvision:resnet18", "--input", "3,32,32", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "layer1.0.conv1" in out and "S_n^l/sigma^l" in out and "Conv2d 7x7 3->64" in out
    for label in ("sum (S_n):", "overall SSNR:", "layer-wise SSNR:"):
        assert label in out
    assert cli.main(["model", "zoo:resnet18", "--input", "3,32,32", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert len(found["layers"]) == 21 and set(found["scores"]) == set(aggregation.LABELS)
    row = found["layers"][0]
    assert row["layer"] == "conv1" and row["count"] == 64 * 3 * 7 * 7


@pytest.mark.parametrize(
    "argv, message",
    [
        (["model", "vgg16"], "torchvision:NAME"),
        (["model", "zoo:alexnet"], "unknown model 'alexnet'"),
        (["model", "no_such_module_x:f"], "cannot import"),
        (["model", "zoo:resnet18", "--input", "3,a"], "--input"),
        (["model", "zoo:vit_b_16", "--input", "3,32,32"], "224x224"),
        (["model", "zoo:resnet18", "--saliency", "nope"], "unknown saliency"),
    ],
)
def test_model_command_bad_input_is_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("error:")
