"""The machine a benchmark ran on, and its theoretical peak (the baseline of every GFLOP/s row).

CPU fp32 peak = cores × (vector width / 32 bits) lanes × FMA units per core × 2 FLOP per FMA × frequency.
Each term is read from ``/proc/cpuinfo`` where it can be, otherwise taken from a documented
rule or assumption, and :class:`CpuPeak` says which (``derivation``):

- cores: logical CPUs this process may use, divided by hardware threads per core
  (``siblings`` / ``cpu cores``).
- vector width: 512 bits with ``avx512f``, 256 with ``avx2`` + ``fma``, else 128 (SSE).
- FMA units of that width per core: AMD family 25 (Zen 4) runs a 512-bit FMA as two
  halves on its two 256-bit FMA pipes, so it retires one 512-bit FMA per cycle; AMD
  family 23 below model 0x30 (Zen, Zen+) likewise runs a 256-bit FMA as two halves on
  its two 128-bit pipes (one 256-bit FMA per cycle); every other CPU is assumed to have
  two FMA units of its widest vector width (Intel Xeon Gold/Platinum and Sapphire Rapids,
  AMD Zen 2/3 with 256 bits, Zen 5).
- frequency: the largest ``cpu MHz`` in ``/proc/cpuinfo`` (under a hypervisor this is
  usually the nominal frequency, not the boost one); when missing, the 2.1 GHz of the
  issue-10 reference machine is assumed.

GPU peaks come from :data:`GPU_PEAK_TFLOPS`, a table of NVIDIA's dense (no sparsity) figures.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import subprocess
from pathlib import Path

from keras_hdl.runtime import BF16_CPU_FLAGS, usable_cpus

ASSUMED_GHZ = 2.1
"""Frequency when the CPU reports none: the issue-10 reference machine's (2 cores, AVX-512, ~2.1 GHz)."""
REPORTED_FLAGS = ("fma", "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
ALLOCATOR_ENV = re.compile(
    r"^(MALLOC_|LD_PRELOAD$|TCMALLOC|JEMALLOC|KERAS_HDL_NO_MALLOPT$|TF_ENABLE_ONEDNN_OPTS$|OMP_|TF_NUM_)"
)

# NVIDIA dense tensor-core peaks in TFLOP/s (datasheets; the sparsity figures halved), and the
# non-tensor fp32 peak. "tf32" is what TensorFlow uses for float32 matmuls and convolutions on these GPUs.
GPU_PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9},  # H200 datasheet (SXM; same tensor cores as H100 SXM)
    "H100 SXM": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9},  # H100 datasheet, SXM5
    "H100 NVL": {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0},  # H100 datasheet, NVL
    "H100 PCIe": {"bf16": 756.5, "tf32": 378.0, "fp32": 51.2},  # H100 datasheet, PCIe
    "A100": {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5},  # A100 datasheet
    "L40S": {"bf16": 362.1, "tf32": 183.0, "fp32": 91.6},  # L40S datasheet
    "L4": {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3},  # L4 datasheet
}
GPU_PEAK_SOURCE = "NVIDIA datasheets, dense (without sparsity) tensor-core figures"


@dataclasses.dataclass(frozen=True)
class CpuPeak:
    """A CPU's fp32 peak and how it was derived (``assumed`` lists the terms not read from the CPU)."""

    cores: int
    vector_bits: int
    fma_units: int
    ghz: float
    assumed: tuple[str, ...]

    @property
    def flops_per_cycle(self) -> int:
        """fp32 FLOP per cycle and core: lanes × FMA units × 2."""
        return self.vector_bits // 32 * self.fma_units * 2

    @property
    def gflops(self) -> float:
        return self.cores * self.flops_per_cycle * self.ghz

    @property
    def derivation(self) -> str:
        text = (
            f"{self.cores} cores × {self.vector_bits // 32} fp32 lanes ({self.vector_bits}-bit vectors) × "
            f"{self.fma_units} FMA unit(s) × 2 FLOP/FMA × {self.ghz:.3g} GHz = {self.gflops:.0f} GFLOP/s"
        )
        return text + (f" (assumed: {', '.join(self.assumed)})" if self.assumed else "")


def cpuinfo_fields(text: str) -> list[dict[str, str]]:
    """One dict per ``processor`` block of ``/proc/cpuinfo`` text."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "processor" in fields:
            blocks.append(fields)
    return blocks


def cpu_peak(cpuinfo_text: str, usable_cpus: int | None = None) -> CpuPeak:
    """The fp32 peak of the CPU described by ``/proc/cpuinfo`` text (rules in the module docstring).

    ``usable_cpus``: logical CPUs this process may run on (default: every processor listed).
    """
    processors = cpuinfo_fields(cpuinfo_text)
    first = processors[0] if processors else {}
    flags = set(first.get("flags", "").split())
    assumed = []
    logical = usable_cpus or len(processors) or 1
    try:
        threads_per_core = max(1, int(first["siblings"]) // int(first["cpu cores"]))
    except (KeyError, ValueError, ZeroDivisionError):
        threads_per_core = 1
        assumed.append("1 thread per core")
    cores = max(1, logical // threads_per_core)

    vector_bits = 512 if "avx512f" in flags else 256 if {"avx2", "fma"} <= flags else 128
    amd = first.get("vendor_id") == "AuthenticAMD"
    family, model = first.get("cpu family", ""), first.get("model", "")
    if amd and family == "25" and vector_bits == 512:
        fma_units = 1  # Zen 4: two 256-bit FMA pipes = one 512-bit FMA per cycle
    elif amd and family == "23" and model.isdigit() and int(model) < 0x30 and vector_bits == 256:
        fma_units = 1  # Zen, Zen+: two 128-bit FMA pipes = one 256-bit FMA per cycle
    else:
        fma_units = 2
        assumed.append("2 FMA units per core")

    mhz = [float(block["cpu MHz"]) for block in processors if _is_number(block.get("cpu MHz", ""))]
    if mhz:
        ghz = max(mhz) / 1000
    else:
        ghz = ASSUMED_GHZ
        assumed.append(f"{ASSUMED_GHZ} GHz (no cpu MHz reported)")
    return CpuPeak(cores, vector_bits, fma_units, ghz, tuple(assumed))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_cpuinfo() -> str:
    path = Path("/proc/cpuinfo")
    return path.read_text() if path.is_file() else ""


def this_cpu_peak() -> CpuPeak:
    return cpu_peak(read_cpuinfo(), usable_cpus())


def cpu_has_bf16(cpuinfo_text: str) -> bool:
    """Whether the CPU computes bfloat16 natively (AVX-512 BF16 or AMX-BF16)."""
    processors = cpuinfo_fields(cpuinfo_text)
    flags = set(processors[0].get("flags", "").split()) if processors else set()
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def gpu_peak_tflops(gpu_name: str) -> tuple[str, dict[str, float]] | None:
    """(table key, {precision: TFLOP/s}) for an ``nvidia-smi`` GPU name, or None for a GPU not in the table.

    The longest table key the name contains wins. ``nvidia-smi`` names PCIe and NVL H100 boards as
    such but not SXM ones ("NVIDIA H100 80GB HBM3"), so any other H100 counts as SXM.
    """
    name = gpu_name.upper()
    if "H100" in name and not any(kind in name for kind in ("PCIE", "NVL")):
        name += " H100 SXM"
    for key in sorted(GPU_PEAK_TFLOPS, key=len, reverse=True):
        if key.upper() in name:
            return key, GPU_PEAK_TFLOPS[key]
    return None


def gpu_names() -> list[str]:
    """Names of the NVIDIA GPUs ``nvidia-smi`` lists (empty without a driver)."""
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()] if result.returncode == 0 else []


def machine_info() -> dict:
    """What the JSON report records about the machine: CPU, its peak, GPUs, versions, allocator settings."""
    from importlib.metadata import PackageNotFoundError, version

    cpuinfo = read_cpuinfo()
    first = (cpuinfo_fields(cpuinfo) or [{}])[0]
    flags = set(first.get("flags", "").split())
    peak = cpu_peak(cpuinfo, usable_cpus())
    versions = {}
    for package in ("tensorflow", "keras", "ai-edge-litert", "keras-hdl"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    gpus = gpu_names()
    return {
        "cpu_model": first.get("model name", platform.processor()),
        "cpu_vendor": first.get("vendor_id", ""),
        "cpu_family": first.get("cpu family", ""),
        "usable_cpus": usable_cpus(),
        "cores": peak.cores,
        "cpu_flags": [flag for flag in REPORTED_FLAGS if flag in flags],
        "cpu_mhz": first.get("cpu MHz"),
        "fp32_peak_gflops": peak.gflops,
        "fp32_peak_derivation": peak.derivation,
        "bf16_native": cpu_has_bf16(cpuinfo),
        "gpus": gpus,
        "gpu_peak": {name: gpu_peak_tflops(name) for name in gpus},
        "gpu_peak_source": GPU_PEAK_SOURCE,
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "versions": versions,
        "allocator_env": {key: value for key, value in os.environ.items() if ALLOCATOR_ENV.match(key)},
    }


def main() -> None:
    """Print this machine's info (JSON); with ``--gpu-name NAME``, that GPU's peak from the table."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--gpu-name", default=None, help="an nvidia-smi GPU name to look up in the peak table")
    args = parser.parse_args()
    if args.gpu_name is None:
        print(json.dumps(machine_info(), indent=2))
        return
    found = gpu_peak_tflops(args.gpu_name)
    if found is None:
        print(f"{args.gpu_name}: not in the peak table ({', '.join(GPU_PEAK_TFLOPS)}); no peak fraction reported")
        return
    key, peaks = found
    figures = ", ".join(f"{precision} {tflops:g} TFLOP/s" for precision, tflops in peaks.items())
    print(f"{args.gpu_name} → {key}: {figures} ({GPU_PEAK_SOURCE})")


if __name__ == "__main__":
    main()
