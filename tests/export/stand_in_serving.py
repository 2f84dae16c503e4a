"""A STAND-IN for TensorFlow Serving in tests: NOT tensorflow_model_server.

It loads the SavedModels of a ``keras-hdl export`` model base with ``tf.saved_model.load``
and answers the same REST predict API the real server offers
(``POST /v1/models/<name>[/versions/<n>]:predict`` with ``{"signature_name"?, "inputs": {...}}``,
columnar format), including TF Serving's habits: an unnamed ``outputs`` value when a
signature has one output, ``{"error": ...}`` bodies with HTTP 400/404. It lets the client
be tested without the TF Serving binary or container, which this machine does not have.
``fault``, when set, rewrites each answer, so tests can play a slow, failing or changed server.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import tensorflow as tf

PREDICT_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?:predict$")


class StandInServing:
    """Serve every model folder of ``model_base`` on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, model_base: Path):
        self.model_base = Path(model_base)
        self._loaded: dict[tuple[str, int], object] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (model, signature) of every predict call
        # (model, signature, status, answer) -> (status, answer) the client gets instead
        self.fault: Callable[[str, str, int, dict], tuple[int, dict]] | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandInServing:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def model(self, name: str, version: int | None):
        folder = self.model_base / name
        if not folder.is_dir():
            return None
        versions = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
        version = version if version is not None else (versions[-1] if versions else None)
        if version not in versions:
            return None
        with self._lock:
            if (name, version) not in self._loaded:
                self._loaded[(name, version)] = tf.saved_model.load(str(folder / str(version)))
            return self._loaded[(name, version)]

    def predict(self, name: str, version: int | None, body: dict) -> tuple[int, dict]:
        loaded = self.model(name, version)
        if loaded is None:
            return 404, {"error": f"Servable not found for request: Latest({name})"}
        signature_name = body.get("signature_name", "serving_default")
        if signature_name not in loaded.signatures:
            return 400, {"error": f'Serving signature name: "{signature_name}" not found in signature def'}
        signature = loaded.signatures[signature_name]
        specs = signature.structured_input_signature[1]
        inputs = body.get("inputs")
        if not isinstance(inputs, dict) or set(inputs) != set(specs):
            return 400, {"error": "input size does not match signature"}
        self.requests.append((name, signature_name))
        try:
            tensors = {key: tf.constant(np.asarray(value), specs[key].dtype) for key, value in inputs.items()}
            outputs = signature(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            return 400, {"error": str(err).splitlines()[0]}
        as_json = {
            key: (value.numpy().decode() if value.dtype == tf.string else value.numpy().tolist())
            for key, value in outputs.items()
        }
        return 200, {"outputs": next(iter(as_json.values())) if len(as_json) == 1 else as_json}

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                match = PREDICT_PATH.match(self.path)
                if match is None:
                    status, answer = 404, {"error": f"Malformed request: POST {self.path}"}
                else:
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    version = int(match["version"]) if match["version"] else None
                    status, answer = stand_in.predict(match["name"], version, body)
                    if stand_in.fault is not None:
                        signature = body.get("signature_name", "serving_default")
                        status, answer = stand_in.fault(match["name"], signature, status, answer)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, *args):  # keep test output clean
                pass

        return Handler
