"""Run as a script: one worker of a `--strategy multiworker` run; prints its weights' digest as JSON.

``TF_CONFIG=... python multiworker_check.py OUT_DIR DATA_DIR EPOCHS``. Trains the tiny phase
model with :func:`keras_hdl.training.train.train` (what `keras-hdl train` calls) and prints
one line ``RESULT {"chief_files": bool, "digest": sha256 of the best generator's weights,
"losses": [per-epoch train generator loss]}``. A separate process per worker, because
MultiWorkerMirroredStrategy must be created before TensorFlow starts (see test_multiworker.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from keras_hdl.training.train import TrainOptions, train


def main() -> None:
    out_dir, data_dir, epochs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    result = train(
        TrainOptions(
            out_dir, module="phase", preset="tiny", data=data_dir, epochs=epochs, strategy="multiworker", verbose=0
        )
    )
    digest = hashlib.sha256()
    for weight in result.networks["phase"].get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    losses = [float(row["train_generator_loss"]) for row in result.metrics]
    terms = {name: [float(row[f"train_{name}"]) for row in result.metrics] for name in ("l1_foreground", "velocity")}
    report = {"digest": digest.hexdigest(), "losses": losses, "terms": terms, "best": result.best["phase"]}
    print("RESULT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
