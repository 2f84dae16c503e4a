"""The REST client against a faulty server (the stand-in with a ``fault``): a clear error, a timeout, bounded
retries, and no twin written."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
from click.testing import CliRunner

from keras_hdl.cli import main
from keras_hdl.errors import InputError
from keras_hdl.export.serving import RETRIES, RETRY_DELAYS_S, RestPredictor, connect

BATCH = {  # the tiny phase generator's inputs: 5 neighbouring frames, the cycle position, the seed
    "magnitudes": np.zeros((2, 32, 32, 5), np.float32),
    "position": np.float32([[0.1], [0.5]]),
    "seed": np.array([[1, 2], [1, 3]], np.int32),
}


@pytest.fixture
def faulty(server):
    """The module's stand-in server; its fault is cleared after the test."""
    yield server
    server.fault = None


class Counted:
    """A fault that answers ``status`` to the first ``times`` predict calls of ``model`` and counts the calls."""

    def __init__(self, model: str, status: int, times: int):
        self.model, self.status, self.times, self.calls = model, status, times, 0

    def __call__(self, model, signature, status, answer):
        if model != self.model or signature != "serving_default":
            return status, answer
        self.calls += 1
        if self.calls <= self.times:
            return self.status, {"error": "Internal: simulated failure"}
        return status, answer


def with_version(version: str, model: str | None = None):
    """A fault that makes ``model``'s (every model's, for None) model_info name ``version``."""

    def fault(name, signature, status, answer):
        if signature == "model_info" and model in (None, name):
            info = json.loads(answer["outputs"])
            answer = {"outputs": json.dumps({**info, "models_version": version})}
        return status, answer

    return fault


def test_server_down_is_retried_then_named(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    start = time.perf_counter()
    with pytest.raises(InputError, match=rf"cannot reach TensorFlow Serving at {url} .*tried {RETRIES + 1} times"):
        RestPredictor(url, "phase")(BATCH)
    assert sum(RETRY_DELAYS_S) <= time.perf_counter() - start < sum(RETRY_DELAYS_S) + 5


def test_http_500_is_retried_a_bounded_number_of_times(faulty):
    faulty.fault = transient = Counted("phase", 500, RETRIES)
    assert RestPredictor(faulty.url, "phase")(BATCH)["phase"].shape == (2, 32, 32, 3)  # the last try succeeds
    assert transient.calls == RETRIES + 1
    faulty.fault = persistent = Counted("phase", 500, 100)
    with pytest.raises(InputError, match=rf"refused 'phase' \(serving_default\): HTTP 500 .*tried {RETRIES + 1} times"):
        RestPredictor(faulty.url, "phase")(BATCH)
    assert persistent.calls == RETRIES + 1
    faulty.fault = client_error = Counted("phase", 400, 100)
    with pytest.raises(InputError, match="HTTP 400"):
        RestPredictor(faulty.url, "phase")(BATCH)
    assert client_error.calls == 1  # a bad request is not sent again


def test_slow_server_times_out_without_retry(faulty):
    def slow(model, signature, status, answer):
        time.sleep(3.0)
        return status, answer

    faulty.fault = slow
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"did not answer 'phase' within 0.5 s.*--server-timeout"):
        RestPredictor(faulty.url, "phase", timeout_s=0.5)(BATCH)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda phase: phase[:1], r"output 'phase' has shape \(1, 32, 32, 3\), expected \(2, 32, 32, 3\)"),
        (lambda phase: [row[:16] for row in phase], r"has shape \(2, 16, 32, 3\)"),
        (lambda phase: [phase[0], phase[1][:3]], "not an array of numbers"),
        (lambda phase: [[[[float("nan")] * 3] * 32] * 32] * 2, "NaN or infinite"),
    ],
    ids=["fewer-samples", "smaller-images", "ragged", "nan"],
)
def test_answers_of_another_shape_are_refused(faulty, damage, message):
    def fault(model, signature, status, answer):
        if signature == "serving_default":
            answer = {"outputs": damage(answer["outputs"])}
        return status, answer

    faulty.fault = fault
    with pytest.raises(InputError, match=message):
        RestPredictor(faulty.url, "phase")(BATCH)


def test_servables_of_different_versions_are_refused(faulty):
    faulty.fault = with_version("other-run", model="interpolator")
    with pytest.raises(InputError, match=r"interpolator \(other-run\) and phase .* come from different models"):
        connect(faulty.url)


def synthesize(url: str, phantom_npz, out):
    args = ["synthesize", str(phantom_npz), "--downsample", "4", "--out", str(out), "--server", url, "--no-progress"]
    return CliRunner().invoke(main, args)


def test_cli_failure_mid_twin_is_one_line_exit_2_and_writes_nothing(faulty, phantom_npz, tmp_path):
    faulty.fault = failing = Counted("phase", 500, 100)  # the interpolator answers, then every phase batch fails
    result = synthesize(faulty.url, phantom_npz, tmp_path / "twin")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: TensorFlow Serving at") and result.output.count("\n") == 1
    assert "HTTP 500" in result.output and f"tried {RETRIES + 1} times" in result.output
    assert failing.calls == RETRIES + 1
    assert not (tmp_path / "twin").exists() and list(tmp_path.iterdir()) == []


def test_cli_refuses_a_twin_whose_models_changed_during_synthesis(faulty, phantom_npz, tmp_path):
    changed = with_version("redeployed")

    def redeploy_after_first_batch(model, signature, status, answer):
        if signature == "serving_default":
            faulty.fault = changed  # the next model_info answers (after synthesis) name another version
        return status, answer

    faulty.fault = redeploy_after_first_batch
    result = synthesize(faulty.url, phantom_npz, tmp_path / "twin")
    assert result.exit_code == 2, result.output
    assert "changed from" in result.output and "to redeployed during synthesis" in result.output
    assert result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
