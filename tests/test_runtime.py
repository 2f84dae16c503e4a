"""Process-level settings: glibc's allocator keeps large blocks in the heap after tune_allocator()."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import keras_hdl
from keras_hdl import runtime

MALLOC_PROBE = """
import ctypes, sys
from keras_hdl import runtime
applied = runtime.tune_allocator()
libc = runtime.glibc()

FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]

libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
libc.mallinfo2.restype = MallInfo2
mapped_before = libc.mallinfo2().hblks  # blocks glibc serves with their own mmap
block = libc.malloc(256 * 2**20)  # a 256 MiB tensor
mapped = libc.mallinfo2().hblks - mapped_before
libc.free(block)
arena_after_free = libc.mallinfo2().arena  # heap bytes kept for the next allocation
print(int(applied), mapped, arena_after_free)
"""


def probe(**environ: str) -> tuple[int, int, int]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    env.pop(runtime.NO_MALLOPT_ENV, None)
    result = subprocess.run(
        [sys.executable, "-c", MALLOC_PROBE], env={**env, **environ}, capture_output=True, text=True, check=True
    )
    applied, mapped, arena = (int(value) for value in result.stdout.split())
    return applied, mapped, arena


@pytest.mark.skipif(runtime.glibc() is None or not hasattr(runtime.glibc(), "mallinfo2"), reason="needs glibc ≥ 2.33")
def test_tune_allocator_keeps_large_blocks_in_the_heap():
    applied, mapped, arena = probe()
    assert applied == 1
    assert mapped == 0  # served from the heap, not a private mmap
    assert arena >= 256 * 2**20  # and kept there after free (no trim below 2 GiB)

    applied, mapped, arena = probe(**{runtime.NO_MALLOPT_ENV: "1"})
    assert applied == 0
    assert mapped == 1  # glibc's default: a block this large gets its own mmap
    assert arena < 256 * 2**20


def test_tune_allocator_is_a_no_op_off_glibc(monkeypatch):
    monkeypatch.delenv(runtime.NO_MALLOPT_ENV, raising=False)
    monkeypatch.setattr(runtime, "glibc", lambda: None)
    assert runtime.tune_allocator() is False


def test_heavy_commands_tune_the_allocator_before_they_load(monkeypatch):
    from click.testing import CliRunner

    from keras_hdl.cli import main

    calls = []
    monkeypatch.setattr(runtime, "tune_allocator", lambda: calls.append(True) or True)
    assert CliRunner().invoke(main, ["synthesize", "--help"]).exit_code == 0
    assert calls == [True]
    assert CliRunner().invoke(main, ["phantom", "--help"]).exit_code == 0
    assert calls == [True]  # a light command leaves glibc's defaults alone


ONEDNN_PROBE = (
    "import keras_hdl, tensorflow\n"
    "from tensorflow.python.util import _pywrap_util_port\n"
    "print(_pywrap_util_port.IsMklEnabled())\n"
)


@pytest.mark.parametrize(("setting", "enabled"), [(None, "True"), ("0", "False"), ("1", "True")])
def test_importing_keras_hdl_switches_tensorflow_onednn_on_unless_told_not_to(setting, enabled):
    """TensorFlow enables oneDNN by itself only on CPUs with AVX512_VNNI / AVX512_BF16 / AMX: on an AVX2 CPU the
    unset case would print False without keras_hdl's default (checked on a 2-core AVX2 EPYC); the user's 0 wins."""
    env = {key: value for key, value in os.environ.items() if key != keras_hdl.ONEDNN_ENV}
    if setting is not None:
        env[keras_hdl.ONEDNN_ENV] = setting
    result = subprocess.run([sys.executable, "-c", ONEDNN_PROBE], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == enabled


def test_each_test_worker_gives_tensorflow_its_share_of_the_cores():
    """tests/conftest.py: under pytest-xdist (the README's test command), one worker's TensorFlow threads per op
    are the usable cores divided among the workers, so that the workers do not oversubscribe the cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers == 1:
        pytest.skip("only under pytest-xdist with two workers or more")
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == str(max(1, runtime.usable_cpus() // workers))
