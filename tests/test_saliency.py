import numpy as np
import pytest
import torch
from conftest import reference_synflow
from torch import nn

from ssnr_core.proxies import aggregation, network, saliency
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import nb201

pytestmark = pytest.mark.usefixtures("single_thread")


def _chain() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv2d(8, 4, 3, stride=2, bias=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 7 * 7, 5, bias=False),
    )


def test_synflow_conservation_law_in_a_plain_chain():
    """In a bias-free chain every layer's synflow sum equals the summed output R (float64)."""
    model = _chain().double()
    x = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    per_layer = saliency.compute("synflow", model, x, None)
    with torch.no_grad():
        linear = nn.Sequential(*[m for m in model if not isinstance(m, nn.ReLU)])
        for p in linear.parameters():
            p.abs_()
        r = linear(torch.ones(1, 3, 16, 16, dtype=torch.float64)).sum().item()
    sums = [s.sum().item() for s in per_layer]
    assert len(sums) == 3
    assert sums == pytest.approx([r] * 3, rel=1e-10)


def test_synflow_leaves_the_model_as_it_was():
    model = _chain()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    saliency.compute("synflow", model, torch.zeros(1, 3, 16, 16), None)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert next(model.parameters()).dtype == torch.float32


@pytest.mark.parametrize("arch", ["(4, 3, 3, 3, 2, 3)", "(2, 2, 2, 2, 2, 2)", "(1, 1, 0, 1, 2, 3)"])
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 1e-5)])
def test_engine_matches_a_float64_reference_loop(arch, dtype, rtol):
    setup = Setup("nb201", "cifar10", "synflow", seed=3, dtype=dtype)
    fast = network.network_stats(setup, nb201.to_str(nb201.parse(arch)), share=True)
    model = network.build_network(setup, nb201.to_str(nb201.parse(arch)), share=False)
    ref = aggregation.layer_stats(reference_synflow(model, (3, 32, 32)))
    np.testing.assert_allclose(fast, ref, rtol=rtol, atol=0)
    assert aggregation.total(fast) > 0


def test_float32_synflow_does_not_overflow_and_matches_float64():
    """R is about 1e48 for an all-3x3 NB201 cell: beyond float32, so synflow reruns the
    forward on a scaled input; the result must still match float64 closely."""
    arch = nb201.to_str(nb201.parse("(2, 2, 2, 2, 2, 2)"))
    setup32 = Setup("nb201", "cifar10", "synflow", seed=3)
    assert setup32.dtype == "float32"  # the default: what the cache key says is computed
    _, s32 = network.saliencies(setup32, arch)
    _, s64 = network.saliencies(Setup("nb201", "cifar10", "synflow", seed=3, dtype="float64"), arch)
    assert max(s.sum().item() for s in s64) > 1e40  # really past float32's range
    for a, b in zip(s32, s64, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-5, atol=0)
        assert not torch.equal(a, b)  # float32 was really used, not float64 under its name


@pytest.mark.parametrize(
    "name", sorted(n for n, s in saliency.REGISTRY.items() if not s.per_network)
)
def test_every_saliency_gives_one_finite_tensor_per_layer(name):
    setup = Setup("nb201", "cifar10", name, seed=1)
    arch = nb201.to_str(nb201.parse("(4, 3, 2, 0, 2, 3)"))
    names, values = network.saliencies(setup, arch)
    model = network.build_network(setup, arch)
    layers = saliency.weight_layers(model)
    assert names == [n for n, _ in layers]
    for (_, layer), s in zip(layers, values, strict=True):
        expected = (layer.weight.shape[0],) if name == "fisher" else layer.weight.shape
        assert s.shape == expected and s.dtype == torch.float64
        assert torch.isfinite(s).all()
    assert any(s.abs().sum() > 0 for s in values)


def test_grasp_is_minus_hessian_gradient_times_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Tanh(), nn.Linear(3, 2, bias=False))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 1, 0, 1])
    got = saliency.compute("grasp", model, x, y)
    params = [model[0].weight, model[2].weight]

    def loss_of(w0, w2):
        return nn.functional.cross_entropy(torch.tanh(x @ w0.T) @ w2.T, y)

    g = torch.autograd.grad(loss_of(*params), params)
    _, hg = torch.autograd.functional.hvp(loss_of, tuple(p.detach() for p in params), g)
    for s, h, w in zip(got, hg, params, strict=True):
        torch.testing.assert_close(s, (-(h * w)).double(), rtol=1e-5, atol=1e-8)


def test_unknown_saliency():
    with pytest.raises(ValueError, match="unknown saliency 'jacob'"):
        saliency.get("jacob")
