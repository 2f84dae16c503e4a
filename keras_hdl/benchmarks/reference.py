"""The authors' temporal interpolation network re-implemented in PyTorch, to time it beside ours in one run.

The released code (``R2U_Netseg`` in ``frameinterpolation/Models.py`` of the authors'
repository) does not run. This module rebuilds it as released, with exactly these fixes:

1. ``forward`` pools with ``self.Maxpool``, which is never defined (only ``Maxpool1..4``
   are): every pool is a stateless 2×2 max pool, so one :class:`torch.nn.MaxPool2d` serves.
2. ``e3 = self.RRCNN3(e3seg)`` overwrites the image stream's level-3 features with the mask
   stream's; the mask stream's own variable (``e3seg``) is meant.
3. Four decoder layers are built for fewer channels than reach them. ``Up5`` gets the two
   bottlenecks (2 × 1024) and the 3 time maps: 2051 channels, not 2048. ``Up_RRCNN5``,
   ``Up_RRCNN4`` and ``Up_RRCNN3`` get the concatenation of the up-sampled features with both
   streams' skips (2048, 1024 and 512 channels) and must give what the next ``up_conv``
   expects (1024, 512, 256): they are built as 1024→512, 512→256 and 256→128.

Everything else is as released, including what looks unintended but runs: the mask stream
reuses the image stream's encoder blocks (the ``RRCNN*seg`` blocks are built, so their
parameters count, but never called), the image head uses ``Convseg`` and the mask head
``Up_RRCNN2``, and a recurrent block with ``t = 2`` applies its convolution three times
(``x = f(x)``, then ``f(x + x)`` twice). With 2 input channels per stream that is
104.5 M parameters and 868 GFLOP per 256² sample, the figures of the released network.
The first of the two ``f(x + x)`` is discarded (``out`` is overwritten), so no gradient
flows through it: a training step does 2139 GFLOP per 256² sample, 2.47 × the forward
pass, not the 3 × of a network whose every convolution reaches the loss
(:func:`training_step_flops`; the achieved GFLOP/s use this count).

Inputs (PyTorch layout): frames and masks (B, 2, H, W) each, time maps (B, 3, H, W) (the
released loader gives three constant maps, frame index / 50); outputs: the middle frame and
its mask (B, 1, H, W) each. The released code resizes the time maps to a fixed 16 × 16 (the
bottleneck of a 256² input); here they are resized to the bottleneck of any input size.
The training step is the released one: L1 of the frame, the two weight-map L1s, and a soft
Dice loss of the mask, with Adam (lr 1e-3). Needs ``torch`` (``pip install -e '.[reference]'``).
"""

from __future__ import annotations

import itertools
from typing import Any

FILTERS = (64, 128, 256, 512, 1024)
"""Channels of the encoder levels (``n1 = 64`` doubled per level)."""
STREAM_CHANNELS = 2
"""Input channels of each stream: the two neighbouring frames, or their two masks."""
TIME_CHANNELS = 3
"""Time maps of the released loader: the three frame indices / 50, each a constant map."""
RECURRENT_STEPS = 2


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:  # the optional extra is not installed
        from keras_hdl.errors import InputError

        raise InputError(
            "the reference benchmark needs PyTorch: pip install -e '.[reference]' (CPU build of torch)"
        ) from err
    return torch


def build_reference_network(steps: int = RECURRENT_STEPS):
    """The released ``R2U_Netseg(2)`` with the three fixes of the module docstring (a ``torch.nn.Module``)."""
    torch = _torch()
    nn, functional = torch.nn, torch.nn.functional

    def conv_bn_relu(channels_in: int, channels_out: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=True),
            nn.BatchNorm2d(channels_out),
            nn.ReLU(inplace=True),
        )

    class RecurrentBlock(nn.Module):
        """One conv + BN + ReLU applied recurrently, as released (the conv runs ``steps + 1`` times)."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv = conv_bn_relu(channels, channels)

        def forward(self, x):
            for step in range(steps):
                if step == 0:
                    x = self.conv(x)
                out = self.conv(x + x)
            return out

    class ResidualRecurrentBlock(nn.Module):
        """1×1 projection, two recurrent blocks, residual sum."""

        def __init__(self, channels_in: int, channels_out: int) -> None:
            super().__init__()
            self.project = nn.Conv2d(channels_in, channels_out, 1)
            self.recurrent = nn.Sequential(RecurrentBlock(channels_out), RecurrentBlock(channels_out))

        def forward(self, x):
            x = self.project(x)
            return x + self.recurrent(x)

    def up(channels_in: int, channels_out: int) -> nn.Module:
        return nn.Sequential(nn.Upsample(scale_factor=2), conv_bn_relu(channels_in, channels_out))

    f1, f2, f3, f4, f5 = FILTERS

    class ReferenceInterpolator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = nn.MaxPool2d(2, 2)  # fix 1
            levels = list(itertools.pairwise((STREAM_CHANNELS, *FILTERS)))
            self.encoder = nn.ModuleList(ResidualRecurrentBlock(a, b) for a, b in levels)
            # Built as released, never called: the mask stream runs through ``encoder``.
            self.unused_mask_encoder = nn.ModuleList(ResidualRecurrentBlock(a, b) for a, b in levels)
            self.up5 = up(2 * f5 + TIME_CHANNELS, 2 * f4)  # fix 3: + the time maps
            self.decode5 = ResidualRecurrentBlock(4 * f4, 2 * f4)  # fix 3: released (f5, f4)
            self.up4 = up(2 * f4, 2 * f3)
            self.decode4 = ResidualRecurrentBlock(4 * f3, 2 * f3)  # fix 3: released (f4, f3)
            self.up3 = up(2 * f3, 2 * f2)
            self.decode3 = ResidualRecurrentBlock(4 * f2, 2 * f2)  # fix 3: released (f3, f2)
            self.up2 = up(2 * f2, f1)
            self.decode2 = ResidualRecurrentBlock(f2, f1)
            self.head = nn.Conv2d(f1, 1, 1)  # released ``Conv``: built, unused
            self.up2_mask = up(2 * f2, f1)
            self.decode2_mask = ResidualRecurrentBlock(f2, f1)  # released ``Up_RRCNN2seg``: built, unused
            self.head_mask = nn.Conv2d(f1, 1, 1)  # released ``Convseg``: both heads use it

        def encode(self, x):
            features = [self.encoder[0](x)]
            for block in self.encoder[1:]:
                features.append(block(self.pool(features[-1])))
            return features

        def forward(self, frames, masks, time_maps):
            image = self.encode(frames)
            mask = self.encode(masks)  # fix 2: level 3 stays the mask stream's
            time_maps = functional.interpolate(time_maps, image[4].shape[-2:])
            e5 = torch.cat((image[4], mask[4], time_maps), 1)
            e4, e3, e2 = (torch.cat((image[k], mask[k]), 1) for k in (3, 2, 1))
            d5 = self.decode5(torch.cat((e4, self.up5(e5)), 1))
            d4 = self.decode4(torch.cat((e3, self.up4(d5)), 1))
            d3 = self.decode3(torch.cat((e2, self.up3(d4)), 1))
            frame = self.head_mask(self.decode2(torch.cat((image[0], self.up2(d3)), 1)))
            mask_out = self.head_mask(self.decode2(torch.cat((mask[0], self.up2_mask(d3)), 1)))
            return frame, mask_out

    return ReferenceInterpolator()


def parameter_count(network) -> int:
    """Trainable parameters of a ``torch.nn.Module``."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)


def reference_inputs(batch: int, size: int, seed: int = 0) -> dict:
    """Random inputs and targets of one training batch (``torch`` tensors, float32)."""
    torch = _torch()
    generator = torch.Generator().manual_seed(seed)

    def uniform(channels: int):
        return torch.rand((batch, channels, size, size), generator=generator)

    weights = uniform(1) > 0.5
    return {
        "frames": uniform(STREAM_CHANNELS),
        "masks": (uniform(STREAM_CHANNELS) > 0.8).float(),
        "time_maps": torch.rand((batch, TIME_CHANNELS, 1, 1), generator=generator).expand(-1, -1, size, size),
        "target": uniform(1),
        "target_mask": (uniform(1) > 0.8).float(),
        "weights1": weights.float(),
        "weights2": (~weights).float(),
    }


def forward_flops(size: int = 256) -> float:
    """Forward FLOPs of one ``size``² sample (multiply and add counted apart), on PyTorch's meta device."""
    torch = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        network = build_reference_network()
        frames = torch.empty(1, STREAM_CHANNELS, size, size)
        masks = torch.empty(1, STREAM_CHANNELS, size, size)
        time_maps = torch.empty(1, TIME_CHANNELS, size, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(frames, masks, time_maps)
    return float(counter.get_total_flops())


def training_step_flops(size: int = 256) -> float:
    """FLOPs of one ``size``² sample's training step, forward and backward (multiply and add counted
    apart), counted by ``torch.utils.flop_counter`` on PyTorch's meta device: the convolutions and
    the gradients autograd runs (none for the discarded recurrent step, none into the inputs)."""
    torch = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        network = build_reference_network().train()
        batch = {name: torch.empty(tensor.shape) for name, tensor in reference_inputs(1, size).items()}
    with FlopCounterMode(display=False) as counter:
        training_loss(network, batch).backward()
    return float(counter.get_total_flops())


def training_loss(network, batch: dict):
    """The released training loss: L1 + weight-map L1s (sum / map sum) + soft Dice of the mask."""
    torch = _torch()
    frame, mask = network(batch["frames"], batch["masks"], batch["time_maps"])
    target = batch["target"]
    loss = torch.mean(torch.abs(frame - target))
    for weights in (batch["weights1"], batch["weights2"]):
        loss = loss + torch.sum(torch.abs((frame - target) * weights)) / torch.sum(weights)
    probability = torch.sigmoid(mask)
    overlap = torch.sum(probability * batch["target_mask"])
    dice = (2 * overlap + 1) / (torch.sum(probability) + torch.sum(batch["target_mask"]) + 1)
    return loss + (1 - dice)


def training_step_seconds(batch: int = 4, size: int = 256, precision: str = "fp32", repeats: int = 3) -> float:
    """Median seconds of the released training step (forward, backward, Adam) after one untimed step.

    ``precision``: ``fp32``, or ``bf16`` (``torch.autocast`` on the CPU, as a PyTorch user would).
    """
    torch = _torch()
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision {precision!r}: fp32 or bf16")
    network = build_reference_network().train()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    data = reference_inputs(batch, size)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = training_loss(network, data)
        loss.backward()
        optimizer.step()

    return _median_seconds(step, repeats)


def forward_seconds(size: int = 256, precision: str = "fp32", repeats: int = 3) -> float:
    """Median seconds of one inference forward pass of one sample."""
    torch = _torch()
    network = build_reference_network().eval()
    data = reference_inputs(1, size)

    def forward() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            network(data["frames"], data["masks"], data["time_maps"])

    return _median_seconds(forward, repeats)


GEMM_SIZE = 2048
"""The square matrix product timed in PyTorch, the size of the ``gemm`` item's TensorFlow product."""


def gemm_gflops(precision: str = "fp32", repeats: int = 5) -> float:
    """GFLOP/s of PyTorch's ``GEMM_SIZE``² matrix product on this CPU: the rate its convolutions can approach."""
    torch = _torch()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.rand((GEMM_SIZE, GEMM_SIZE), generator=generator).to(dtype) for _ in range(2))
    return 2 * GEMM_SIZE**3 / _median_seconds(lambda: torch.mm(a, b), repeats) / 1e9


def _median_seconds(fn, repeats: int) -> float:
    from keras_hdl.benchmarks import median_seconds

    return median_seconds(fn, repeats=repeats, warmup=1)


REFERENCE_SIZE = 256
"""The released network's input size (its time maps are resized to a fixed 16 × 16 = 256 / 2⁴)."""
REFERENCE_BATCH = 4
"""The batch of the training step timed beside the ``paper`` preset's (which trains at batch 4 too)."""
REFERENCE_LABEL = "reference interpolator"
"""Row names: ``train reference interpolator fp32 (batch 4 @256px)``, ``forward reference interpolator …``."""


def run(quick: bool, precision: str = "fp32", forward_only: bool = False) -> list:
    """Rows of the reference network: size, forward s/sample, training samples/s and achieved GFLOP/s."""
    from keras_hdl.benchmarks import Row, progress
    from keras_hdl.benchmarks.training import TRAINING_FLOP_FACTOR

    torch = _torch()
    flops = forward_flops(REFERENCE_SIZE)
    step_flops = training_step_flops(REFERENCE_SIZE)
    at = f"@{REFERENCE_SIZE}px"
    rows = []
    if precision == "fp32":
        rows.append(Row(f"{REFERENCE_LABEL} parameters", parameter_count(build_reference_network()) / 1e6, "M"))
        rows.append(
            Row(
                f"{REFERENCE_LABEL} forward FLOPs/sample {at}",
                flops / 1e9,
                "GFLOP",
                note="counted by torch.utils.flop_counter: 2 × multiply-adds of every convolution",
            )
        )
        rows.append(
            Row(
                f"{REFERENCE_LABEL} training FLOPs/sample {at}",
                step_flops / 1e9,
                "GFLOP",
                note=f"forward + backward, counted by torch.utils.flop_counter: {step_flops / flops:.3g} × forward "
                "(the discarded recurrent step has no gradient)",
            )
        )
    threads = torch.get_num_threads()
    progress(f"forward {REFERENCE_LABEL} {precision}, batch 1 {at} (PyTorch {torch.__version__}, {threads} threads)")
    rows.append(
        Row(
            f"forward {REFERENCE_LABEL} {precision} (batch 1 {at})",
            forward_seconds(REFERENCE_SIZE, precision, 1 if quick else 3),
            "s/sample",
            note=f"PyTorch {torch.__version__}, {threads} threads",
        )
    )
    if not forward_only:
        progress(f"training {REFERENCE_LABEL} {precision}: batch {REFERENCE_BATCH} {at}")
        seconds = training_step_seconds(REFERENCE_BATCH, REFERENCE_SIZE, precision, 1 if quick else 2)
        rate = REFERENCE_BATCH / seconds
        rows.append(Row(f"train {REFERENCE_LABEL} {precision} (batch {REFERENCE_BATCH} {at})", rate, "samples/s"))
        gemm = gemm_gflops(precision)
        rows.append(Row(f"{REFERENCE_LABEL} PyTorch GEMM {precision} {GEMM_SIZE}x{GEMM_SIZE}", gemm, "GFLOP/s"))
        rows.append(
            Row(
                f"train {REFERENCE_LABEL} {precision} achieved GFLOP/s",
                step_flops * rate / 1e9,
                "GFLOP/s",
                gemm,
                f"PyTorch GEMM {precision} {GEMM_SIZE}x{GEMM_SIZE} (same process)",
                note=f"counted training FLOPs per sample ({step_flops / 1e9:.4g} GFLOP) × samples/s; "
                f"{TRAINING_FLOP_FACTOR} × forward would credit {TRAINING_FLOP_FACTOR * flops * rate / 1e9:.4g}",
            )
        )
    return rows


def main() -> None:
    from keras_hdl.benchmarks import emit, item_parser, start_item

    started = start_item()
    parser = item_parser(__doc__, "one timed repeat")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--forward-only", action="store_true", help="skip the training step")
    args = parser.parse_args()
    emit(run(args.quick, args.precision, args.forward_only), args.json, started)


if __name__ == "__main__":
    main()
