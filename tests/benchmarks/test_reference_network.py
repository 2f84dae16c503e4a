"""The PyTorch re-implementation of the authors' interpolation network: its size, its cost, its training step.

The parameter and FLOP counts are checked twice: against the released network's figures
(104.5 M parameters, 868 GFLOP per 256² sample) and against a layer-by-layer formula
written here from the architecture, independently of the module's code.
"""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from keras_hdl.benchmarks.reference import (  # noqa: E402
    FILTERS,
    STREAM_CHANNELS,
    TIME_CHANNELS,
    build_reference_network,
    forward_flops,
    parameter_count,
    reference_inputs,
    training_loss,
    training_step_flops,
)


def _conv_params(cin: int, cout: int, k: int) -> int:
    return k * k * cin * cout + cout


def _block_params(cin: int, cout: int) -> int:
    """1×1 projection + two recurrent blocks (each one 3×3 conv and a batch norm's scale and shift)."""
    return _conv_params(cin, cout, 1) + 2 * (_conv_params(cout, cout, 3) + 2 * cout)


def _up_params(cin: int, cout: int) -> int:
    return _conv_params(cin, cout, 3) + 2 * cout


def expected_parameters() -> int:
    f1, f2, f3, f4, f5 = FILTERS
    widths = (STREAM_CHANNELS, *FILTERS)
    encoder = sum(_block_params(a, b) for a, b in itertools.pairwise(widths))
    decoder = (
        _up_params(2 * f5 + TIME_CHANNELS, 2 * f4)
        + _block_params(4 * f4, 2 * f4)
        + _up_params(2 * f4, 2 * f3)
        + _block_params(4 * f3, 2 * f3)
        + _up_params(2 * f3, 2 * f2)
        + _block_params(4 * f2, 2 * f2)
        + 2 * (_up_params(2 * f2, f1) + _block_params(f2, f1) + _conv_params(f1, 1, 1))
    )
    return 2 * encoder + decoder  # the mask encoder is built (counted) though never called


def _conv_flops(cin: int, cout: int, k: int, side: int) -> int:
    return 2 * k * k * cin * cout * side * side


def _block_flops(cin: int, cout: int, side: int) -> int:
    """A recurrent block with t = 2 runs its 3×3 conv three times, as released."""
    return _conv_flops(cin, cout, 1, side) + 2 * 3 * _conv_flops(cout, cout, 3, side)


def expected_flops(size: int) -> int:
    f1, f2, f3, f4, f5 = FILTERS
    widths = (STREAM_CHANNELS, *FILTERS)
    sides = [size // 2**level for level in range(5)]
    encoder = sum(_block_flops(a, b, s) for (a, b), s in zip(itertools.pairwise(widths), sides, strict=True))
    decoder = (
        _conv_flops(2 * f5 + TIME_CHANNELS, 2 * f4, 3, sides[3])
        + _block_flops(4 * f4, 2 * f4, sides[3])
        + _conv_flops(2 * f4, 2 * f3, 3, sides[2])
        + _block_flops(4 * f3, 2 * f3, sides[2])
        + _conv_flops(2 * f3, 2 * f2, 3, sides[1])
        + _block_flops(4 * f2, 2 * f2, sides[1])
        + 2 * (_conv_flops(2 * f2, f1, 3, sides[0]) + _block_flops(f2, f1, sides[0]) + _conv_flops(f1, 1, 1, sides[0]))
    )
    return 2 * encoder + decoder  # both streams run through the (shared) encoder


def test_parameters_match_the_released_network_and_the_layer_formula():
    count = parameter_count(build_reference_network())
    assert count == expected_parameters()  # integers: exact
    assert count / 1e6 == pytest.approx(104.5, abs=0.05)  # the released network's figure, to its rounding


def test_forward_flops_match_the_released_network_and_the_layer_formula():
    flops = forward_flops(256)  # counted on the meta device: no arithmetic is run
    assert flops == expected_flops(256)  # integer counts: exact
    assert flops / 1e9 == pytest.approx(868, abs=0.5)
    assert forward_flops(64) == expected_flops(64)  # the time maps follow the bottleneck of any size


def expected_training_flops(size: int) -> int:
    """Forward + backward by the architecture: every convolution's gradients (input and weights, each its
    forward's FLOPs) but for two kinds. Each recurrent block's first ``f(x + x)`` is discarded by the
    released ``forward`` (its ``out`` is overwritten): it runs forward only. The projections on the two
    network inputs need no input gradient."""
    f1, f2, f3, f4, _ = FILTERS
    sides = [size // 2**level for level in range(5)]
    # Blocks run per sample (the encoder once per stream, decode2 for both heads): (channels, side, runs).
    blocks = [(width, sides[level], 2) for level, width in enumerate(FILTERS)]
    blocks += [(2 * f4, sides[3], 1), (2 * f3, sides[2], 1), (2 * f2, sides[1], 1), (f1, sides[0], 2)]
    discarded = sum(runs * 2 * _conv_flops(width, width, 3, side) for width, side, runs in blocks)  # 2 per block
    input_projections = 2 * _conv_flops(STREAM_CHANNELS, f1, 1, sides[0])
    return 3 * expected_flops(size) - 2 * discarded - input_projections


def test_training_flops_leave_out_the_discarded_recurrent_step():
    flops = training_step_flops(256)  # counted on the meta device, forward and backward
    assert flops == expected_training_flops(256)  # integer counts: exact
    assert flops / forward_flops(256) == pytest.approx(2.465, abs=0.001)  # not the 3 × of the naive estimate


def test_training_step_lowers_the_released_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    network = build_reference_network().train()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    batch = reference_inputs(2, 32)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = training_loss(network, batch)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    # Four Adam steps on one batch: a network that trains fits it (the released loss starts near 1.5-3);
    # a broken backward pass or a head that does not reach the loss leaves it flat.
    assert losses[-1] < 0.8 * losses[0]
    frame, mask = network(batch["frames"], batch["masks"], batch["time_maps"])
    assert frame.shape == mask.shape == (2, 1, 32, 32)
