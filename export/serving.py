"""TensorFlow Serving: the model config file, the models' info, and the REST client.

A deployment serves the three servables of ``keras-hdl export --savedmodel DIR`` —
``interpolator``, ``phase`` and ``twin`` — from one TF Serving process started with
``--model_config_file=DIR/models.config`` (docs/deployment.md). Each servable has two
signatures:

- ``serving_default``: the network (see :mod:`keras_hdl.export.savedmodel`);
- ``model_info``: input ``request`` (int32 scalar, ignored: TF Serving's REST API needs
  one input), output ``model_info``: a JSON string with what a client needs (crop size,
  pixel spacing, frames, background noise μ and σ, composite, models version).

:func:`connect` turns a server URL into the same :class:`~keras_hdl.synthesis.networks.TwinModels`
that a local models folder gives: :class:`RestPredictor` posts each batch to
``URL/v1/models/<name>:predict`` as ``{"inputs": {name: nested lists}}`` (TF Serving's
columnar format) and reads ``outputs`` back.

Faults end in an :class:`~keras_hdl.errors.InputError` that names the server and what
went wrong, never in a partial twin: each request waits at most ``timeout_s``; a refused
connection or an HTTP 5xx answer (TF Serving's 503 while a model loads) is retried
:data:`RETRIES` times after :data:`RETRY_DELAYS_S`, other HTTP errors are not; an answer
of another shape than the batch sent is refused; and :func:`confirm_version` checks after
synthesis that the server still serves the models version the twin was begun with.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.model_store import ModelInfo
from keras_hdl.predictors import DEFAULT_BATCH_SIZE, Progress

SERVABLES = ("interpolator", "phase", "twin")
MODEL_INFO_SIGNATURE = "model_info"
MODEL_INFO_INPUT = "request"
MODEL_INFO_OUTPUT = "model_info"
DEFAULT_SERVING_ROOT = "/models"
OUTPUT_NAMES = {"interpolator": ("magnitude", "mask"), "phase": ("phase",), "twin": ("magnitude", "mask", "phase")}
OUTPUT_CHANNELS = {"magnitude": 1, "mask": 1, "phase": 3}
"""Channels of each network output: a batch (N, H, W, ·) of the N samples of H × W sent."""
REQUEST_TIMEOUT_S = 300.0
RETRY_DELAYS_S = (0.5, 2.0)
"""Waits before the retries of a refused connection or HTTP 5xx: at most 3 attempts in all."""
RETRIES = len(RETRY_DELAYS_S)


def served_info(info: ModelInfo, version: str, phase_model) -> dict:
    """The JSON a ``model_info`` signature returns: the models folder's info plus what synthesis needs."""
    return {
        **info.as_json(),
        "pixel_spacing_mm": list(info.pixel_spacing_mm),
        "models_version": version,
        "composite": bool(phase_model.composite),
        "neighbours": int(phase_model.neighbours),
        "cycle_position": bool(phase_model.cycle_position),
        "background_mean": float(phase_model.background_mean),
        "background_std": float(phase_model.background_std),
        "velocity_reference_cm_s": None
        if phase_model.velocity_reference_cm_s is None
        else list(phase_model.velocity_reference_cm_s),
        "frame_interval_reference_ms": phase_model.frame_interval_reference_ms,
    }


def models_config_text(serving_root: str = DEFAULT_SERVING_ROOT) -> str:
    """A TF Serving ``--model_config_file`` serving every servable from ``<serving_root>/<name>``."""
    root = serving_root.rstrip("/")
    entries = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "{root}/{name}"\n    model_platform: "tensorflow"\n  }}\n'
        for name in SERVABLES
    )
    return f"model_config_list {{\n{entries}}}\n"


def _text(value) -> str:
    """A string output as TF Serving's JSON gives it: plain UTF-8, or ``{"b64": ...}``."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"]).decode("utf-8")
    return str(value)


class RestPredictor:
    """A :class:`~keras_hdl.predictors.Predictor` that runs one batch on TF Serving's REST predict API.

    Args:
        url: the server, e.g. ``http://localhost:8501``.
        model: the servable's name (``interpolator``, ``phase`` or ``twin``).
        signature: the signature to call.
        output_names: the signature's outputs (TF Serving drops the name when there is only one).
        timeout_s: seconds to wait for one answer.
    """

    def __init__(
        self,
        url: str,
        model: str,
        signature: str = "serving_default",
        output_names: tuple[str, ...] | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ):
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--server {url!r}: expected an http:// or https:// URL, e.g. http://localhost:8501")
        self.url = url.rstrip("/")
        self.model = model
        self.signature = signature
        self.output_names = output_names if output_names is not None else OUTPUT_NAMES.get(model, ())
        self.timeout_s = timeout_s

    @property
    def endpoint(self) -> str:
        return f"{self.url}/v1/models/{self.model}:predict"

    def post(self, body: dict) -> dict:
        """POST ``body`` as JSON to the predict endpoint; the decoded JSON answer, or a clear InputError.

        A refused connection or an HTTP 5xx answer is tried again after each of
        :data:`RETRY_DELAYS_S`; a timeout or any other HTTP error is not.
        """
        for delay in RETRY_DELAYS_S:
            try:
                return self._post_once(body)
            except _TransientError:
                time.sleep(delay)
        try:
            return self._post_once(body)
        except _TransientError as fault:
            raise InputError(f"{fault} (tried {RETRIES + 1} times)") from fault.__cause__

    def _post_once(self, body: dict) -> dict:
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            try:
                detail = json.loads(err.read()).get("error", "")
            except (json.JSONDecodeError, AttributeError):
                detail = ""
            message = (
                f"TensorFlow Serving at {self.url} refused {self.model!r} ({self.signature}): HTTP {err.code} "
                f"{detail or err.reason}"
            )
            if err.code >= 500:
                raise _TransientError(f"{message}; the server failed, see its log") from err
            raise InputError(f"{message}; is the model deployed (see docs/deployment.md)?") from err
        except (TimeoutError, urllib.error.URLError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, TimeoutError):
                raise InputError(
                    f"TensorFlow Serving at {self.url} did not answer {self.model!r} within {self.timeout_s:g} s; "
                    "the server is overloaded or hung: try again later or raise --server-timeout"
                ) from err
            raise _TransientError(
                f"cannot reach TensorFlow Serving at {self.url} ({reason}); check --server and that the server runs"
            ) from err
        except ConnectionError as err:
            raise _TransientError(f"TensorFlow Serving at {self.url} dropped the connection ({err})") from err
        except json.JSONDecodeError as err:
            raise InputError(
                f"{self.endpoint}: the answer is not JSON ({err}); is this a TF Serving REST port?"
            ) from err

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = {name: np.asarray(value) for name, value in inputs.items()}
        body = {"inputs": {name: value.tolist() for name, value in arrays.items()}}
        if self.signature != "serving_default":
            body["signature_name"] = self.signature
        answer = self.post(body)
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if outputs is None:
            raise InputError(f"{self.endpoint}: the answer has no 'outputs'; is this a TF Serving REST port?")
        if not isinstance(outputs, dict):
            if len(self.output_names) != 1:
                raise InputError(f"{self.endpoint}: expected outputs {self.output_names}, got one unnamed output")
            outputs = {self.output_names[0]: outputs}
        missing = set(self.output_names) - set(outputs)
        if missing:
            raise InputError(f"{self.endpoint}: the answer lacks outputs {sorted(missing)}; wrong model deployed?")
        first = next(iter(arrays.values()))
        return {name: self._checked(name, outputs[name], first.shape[:3]) for name in self.output_names}

    def _checked(self, name: str, value, batch_shape: tuple[int, ...]) -> np.ndarray:
        """Output ``name`` as float32, refused unless finite and (N, H, W, channels) for the (N, H, W) sent."""
        try:
            array = np.asarray(value, np.float32)
        except (ValueError, TypeError) as err:
            raise InputError(f"{self.endpoint}: output {name!r} is not an array of numbers ({err})") from err
        channels = OUTPUT_CHANNELS.get(name)
        if channels is not None and array.shape != (*batch_shape, channels):
            raise InputError(
                f"{self.endpoint}: output {name!r} has shape {array.shape}, expected {(*batch_shape, channels)} for "
                f"the batch sent; the server runs another model than keras-hdl's {self.model!r}"
            )
        if not np.isfinite(array).all():
            raise InputError(f"{self.endpoint}: output {name!r} holds NaN or infinite values; the model is broken")
        return array


class _TransientError(Exception):
    """A fault worth another attempt (refused connection, HTTP 5xx); its message is the user's error."""


def fetch_info(url: str, model: str) -> dict:
    """The ``model_info`` JSON of one servable of a deployment."""
    predictor = RestPredictor(url, model, MODEL_INFO_SIGNATURE, output_names=(MODEL_INFO_OUTPUT,))
    answer = predictor.post({"signature_name": MODEL_INFO_SIGNATURE, "inputs": {MODEL_INFO_INPUT: 0}})
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if isinstance(outputs, dict):
        outputs = outputs.get(MODEL_INFO_OUTPUT)
    try:
        return json.loads(_text(outputs))
    except (json.JSONDecodeError, TypeError) as err:
        raise InputError(
            f"{predictor.endpoint}: no keras-hdl model info ({err}); deploy the folders of `keras-hdl export`"
        ) from err


def _reference_venc(value) -> tuple[float, float, float] | None:
    """The served phase network's output venc (x, y, z cm/s), None for a venc-blind network."""
    return None if value is None else tuple(float(v) for v in value)


def connect(
    url: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
):
    """``TwinModels`` (:mod:`keras_hdl.synthesis.networks`) running the ``interpolator`` and ``phase`` at ``url``.

    Both servables must come from one export (their ``model_info`` names the same models version);
    each request waits at most ``timeout_s`` seconds.
    """
    from keras_hdl.interpolation.network import NetworkInterpolator
    from keras_hdl.synthesis.networks import PhaseSynthesizer, TwinModels

    info = fetch_info(url, "phase")
    _require_one_version(url, info, fetch_info(url, "interpolator"))
    try:
        return TwinModels(
            interpolator=NetworkInterpolator(
                RestPredictor(url, "interpolator", timeout_s=timeout_s), batch_size=batch_size, progress=progress
            ),
            phase=PhaseSynthesizer(
                RestPredictor(url, "phase", timeout_s=timeout_s),
                info["composite"],
                batch_size,
                progress,
                neighbours=int(info["neighbours"]),
                cycle_position=bool(info["cycle_position"]),
                velocity_reference_cm_s=_reference_venc(info.get("velocity_reference_cm_s")),
                frame_interval_reference_ms=info.get("frame_interval_reference_ms"),
            ),
            crop_size=int(info["crop_size"]),
            pixel_spacing_mm=tuple(float(s) for s in info["pixel_spacing_mm"]),
            frames=int(info["frames"]),
            background_mean=float(info["background_mean"]),
            background_std=float(info["background_std"]),
            version=str(info["models_version"]),
            backend=f"TF Serving at {url}",
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{url}: incomplete keras-hdl model info from the phase servable ({err})") from err


def _require_one_version(url: str, phase_info: dict, interpolator_info: dict) -> None:
    if interpolator_info.get("models_version") != phase_info.get("models_version"):
        raise InputError(
            f"{url}: the interpolator ({interpolator_info.get('models_version')}) and phase "
            f"({phase_info.get('models_version')}) servables come from different models folders; deploy one export"
        )


def confirm_version(url: str, version: str) -> None:
    """Refuse a twin whose requests may have met two model versions: ``url`` must still serve ``version``."""
    info = fetch_info(url, "phase")
    _require_one_version(url, info, fetch_info(url, "interpolator"))
    if str(info.get("models_version")) != version:
        raise InputError(
            f"{url}: the server's models changed from {version} to {info.get('models_version')} during synthesis, "
            "so the twin would mix two models; nothing was written: run synthesize again"
        )


def write_models_config(path: str | Path, serving_root: str = DEFAULT_SERVING_ROOT) -> Path:
    """Write :func:`models_config_text` to ``path`` atomically."""
    from keras_hdl.io_utils import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(models_config_text(serving_root))
    return path
