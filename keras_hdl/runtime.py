"""Process-level performance settings: inference precision and back end, and glibc's allocator.

Importing this module is cheap (no TensorFlow); TensorFlow is imported only by the GPU check
(:func:`visible_gpus`, used by :func:`native_bf16` and :func:`backend_candidates`).

- :func:`tune_allocator`: glibc's malloc serves every large tensor with its own ``mmap`` and gives
  it back with ``munmap`` on free, so each training step maps, zero-fills and unmaps gigabytes
  (kernel time). ``mallopt(M_MMAP_MAX, 0)`` and a high ``M_TRIM_THRESHOLD`` keep freed memory in
  the heap for the next step, like ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=…`` set before the
  process starts. The CLI calls it when a heavy command starts, before TensorFlow allocates;
  ``KERAS_HDL_NO_MALLOPT=1`` turns it off; a no-op off glibc.

- :func:`resolve_precision`: ``"auto"`` → ``"bf16"`` where the hardware computes bfloat16
  natively (a CPU with AVX512_BF16 or AMX-BF16, an NVIDIA GPU of compute capability ≥ 8.0),
  else ``"fp32"``. bf16 inference is checked against fp32 by ``tests/synthesis/test_inference_precision.py``
  (tolerances in :data:`BF16_TOLERANCE`).

- :func:`backend_candidates`: what may run the networks of a local synthesis (:data:`BACKENDS`).
  ``"auto"`` is ``keras`` alone for bf16 (a Keras dtype policy; TFLite and XLA run fp32 only), where
  a GPU is visible (TFLite runs on the CPU) or where ai-edge-litert does not import; otherwise
  ``keras`` and ``tflite`` (TFLite fp32 through ai-edge-litert's XNNPACK), and
  :func:`keras_hdl.synthesis.backends.fastest_backend` times both on a short twin of the networks'
  crops once per machine and weights and keeps the faster. Which one wins depends on the CPU: full
  256² twins ran 1.35x faster on TFLite than on Keras on a 2-core AVX-512 EPYC (Zen 4), but 1.1-1.2x
  slower on an AVX2 Zen 1 (docs/benchmarks.md). ``xla`` is never picked: each process compiles it
  again for every batch size (seconds), and its steady state was 1.06x Keras on Zen 4 and slower on
  Zen 1; ``python -m keras_hdl.benchmarks.inference`` measures every back end on any machine. Each
  back end's twin is checked against fp32 Keras by ``tests/synthesis/test_backends.py`` (tolerances
  in :data:`BACKEND_TOLERANCE`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from pathlib import Path

from keras_hdl.errors import InputError
from keras_hdl.precision import INFERENCE_PRECISIONS

BACKENDS = ("auto", "keras", "xla", "tflite")
DEFAULT_BACKEND = "auto"
LITERT_DISTRIBUTION = "ai-edge-litert"
TFLITE_INSTALL = "pip install keras-hdl[tflite]"

BF16_TOLERANCE = {
    "magnitude_max_abs": 2e-2,
    "myocardium_phase_max_abs": 6e-2,
    "myocardial_mean_phase_max_abs": 1.5e-2,
    "foreground_flip_fraction": 2e-4,
    "mask_dice_min": 0.99,
}
"""How far a bf16 twin's crops may lie from the fp32 twin's (normalised units, [−1, 1]).

Phase is compared in the myocardium (what the assessment reads): per pixel, and as each frame's
myocardial mean (≈ the velocity curves: 1.5e-2 × venc 20–30 cm/s ≤ 4.5 mm/s; measured 0.9e-2 for the
shipped weights, per pixel 0.039). Elsewhere in the foreground — low-signal tissue at the body's edge,
whose phase is noise — bf16 and fp32 generators differ by up to ~1 (normalised) on ~1 % of the pixels,
so no bound is claimed there. The twins' foregrounds are compared too (the composite switches a
pixel between the generator and background noise when its interpolated magnitude crosses the threshold; that
happens to at most ``foreground_flip_fraction`` of the pixels: those whose magnitude lies within bf16
rounding, 2⁻⁸ relative, of the threshold, a share that depends on the networks; the shipped ones
measured 1.1e-4). Masks: DICE of the dropped
frames' masks (probability > 0.5).
"""

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
BF16_GPU_COMPUTE_CAPABILITY = (8, 0)


def cpuinfo_field(name: str, cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The first CPU's ``name`` field of ``/proc/cpuinfo`` (e.g. ``flags``, ``model name``; empty where there is
    none, e.g. off Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, e.g. off Linux)."""
    return frozenset(cpuinfo_field("flags", cpuinfo).split())


def visible_gpus() -> list:
    """TensorFlow's physical GPU devices (empty on a CPU-only machine or build)."""
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True where inference runs on hardware with native bfloat16 arithmetic (see module docstring)."""
    import tensorflow as tf

    gpus = visible_gpus()
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
        return capability is not None and tuple(capability) >= BF16_GPU_COMPUTE_CAPABILITY
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str) -> str:
    """``"fp32"`` or ``"bf16"`` for an inference precision (:data:`~keras_hdl.precision.INFERENCE_PRECISIONS`)."""
    if precision not in INFERENCE_PRECISIONS:
        raise InputError(f"precision: use one of {list(INFERENCE_PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


BACKEND_TOLERANCE = {
    "magnitude_max_abs": 1e-4,
    "mask_max_abs": 1e-3,
    "myocardium_phase_max_abs": 1e-4,
    "myocardial_mean_phase_max_abs": 1e-5,
    "foreground_flip_fraction": 1e-4,
}
"""How far an fp32 back end's twin crops (TFLite, XLA) may lie from fp32 Keras' (normalised units, [−1, 1]).

The same float32 arithmetic in another order (XNNPACK's or XLA's kernels and fusions instead of
oneDNN's, which differ again between AVX2 and AVX-512): each layer moves by a few ulps, through the
interpolator and then the phase network, which reads the interpolated frames. Measured for the
shipped weights (TFLite; XLA about half): magnitude 4e-7, mask probability 8e-6, myocardial phase
per pixel 1.3e-6 and as each frame's myocardial mean (≈ the velocity curves) 1.7e-7; the bounds
leave ≥ 50x margin for other CPUs and weights and are ≥ 200x tighter than bf16's
(:data:`BF16_TOLERANCE`). The mean's bound is 1e-5 × venc (20–30 cm/s) ≤ 0.003 mm/s. The composite
switches a pixel between the generator and background noise when its interpolated magnitude crosses
the threshold: only pixels within rounding of it can flip (``foreground_flip_fraction``; none did);
the background noise itself is drawn from the same seeds by the same kernel.
"""


def litert_version() -> str | None:
    """ai-edge-litert's version if its interpreter imports here, else None."""
    import importlib.metadata

    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return None
    return importlib.metadata.version(LITERT_DISTRIBUTION)


def backend_candidates(backend: str, precision: str) -> tuple[str, ...]:
    """The back ends (``"keras"``, ``"xla"``, ``"tflite"``) that may run a local synthesis asked for ``backend``
    (one of :data:`BACKENDS`) at a resolved precision (``"fp32"`` or ``"bf16"``): one, or for ``"auto"`` on a
    CPU with ai-edge-litert, ``keras`` and ``tflite`` to time (module docstring); InputError for one that
    cannot run here."""
    if backend not in BACKENDS:
        raise InputError(f"--backend: use one of {list(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        if precision != "fp32" or litert_version() is None or visible_gpus():
            return ("keras",)
        return ("keras", "tflite")
    if backend != "keras" and precision != "fp32":
        raise InputError(f"--backend {backend} computes in fp32 only: use --precision fp32, or --backend keras (bf16)")
    if backend == "tflite" and litert_version() is None:
        raise InputError(f"--backend tflite needs ai-edge-litert, which is not installed: {TFLITE_INSTALL}")
    return (backend,)


def backend_description(backend: str, precision: str) -> str:
    """What runs the networks, in words: e.g. ``TFLite fp32 (ai-edge-litert 2.3.0)``, ``Keras bf16``."""
    if backend == "tflite":
        return f"TFLite fp32 ({LITERT_DISTRIBUTION} {litert_version()})"
    return f"{'XLA-compiled Keras' if backend == 'xla' else 'Keras'} {precision}"


def usable_cpus() -> int:
    """Logical CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
"""glibc's ``mallopt`` parameter numbers (malloc.h)."""
TRIM_THRESHOLD_BYTES = 2**31 - 1
"""The largest trim threshold ``mallopt`` takes (an int): the heap keeps up to 2 GiB of freed top memory."""
NO_MALLOPT_ENV = "KERAS_HDL_NO_MALLOPT"


def glibc() -> ctypes.CDLL | None:
    """This process's C library if it is glibc (has ``mallopt`` and ``gnu_get_libc_version``), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None
    return libc


def tune_allocator() -> bool:
    """Keep freed tensors in glibc's heap instead of unmapping them (module docstring); True if applied.

    Not applied (False) off glibc or with ``KERAS_HDL_NO_MALLOPT=1`` in the environment.
    """
    if os.environ.get(NO_MALLOPT_ENV, "") not in ("", "0"):
        return False
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # mallopt returns 1 on success, 0 on error.
    return libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1


CACHE_ENV = "KERAS_HDL_CACHE"


def cache_dir() -> Path:
    """Where keras-hdl keeps what it makes once (the built-in phantom, evaluation baselines): ``$KERAS_HDL_CACHE``,
    default ``~/.cache/keras-hdl``."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "keras-hdl"))
