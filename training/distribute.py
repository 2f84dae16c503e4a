"""Distribution strategies of `keras-hdl train`: which one, who writes the run folder, how data shard.

One custom training loop serves every strategy (:mod:`keras_hdl.training.loop`). The preset's batch
size is the global batch, split over the replicas; every worker sees its share of the same global
batches. Under MultiWorkerMirroredStrategy (``TF_CONFIG``, docs/training.md) only the chief writes the
run folder; the other workers write the same files into a temporary folder they delete at the end.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.training.options import STRATEGIES


def cluster_config() -> dict:
    """The parsed ``TF_CONFIG`` of a multi-worker run (checked, so that mistakes read clearly)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError(
            "--strategy multiworker needs the TF_CONFIG environment variable (cluster and task); see docs/training.md"
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InputError(f"TF_CONFIG is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise InputError('TF_CONFIG: expected a JSON object with "cluster" and "task"')
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not (cluster.get("worker") or cluster.get("chief")):
        raise InputError('TF_CONFIG: needs "cluster" with a "worker" (and optionally "chief") list of host:port')
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise InputError('TF_CONFIG: needs "task": {"type": "worker" or "chief", "index": N} naming a cluster entry')
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise InputError(f"TF_CONFIG: task index {task['index']} is outside the {task['type']} list")
    return config


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The distribution strategy for ``--strategy``.

    auto: MirroredStrategy over several local GPUs, else the default strategy; mirrored:
    MirroredStrategy over every local GPU (or the CPU); multiworker:
    MultiWorkerMirroredStrategy from ``TF_CONFIG``. Create it before any other TensorFlow
    operation (multi-worker collectives are configured at start-up).
    """
    if name == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        cluster_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise InputError(f"--strategy {name!r}: choose {', '.join(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes the run folder: the chief, or worker 0 of a cluster without one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def data_sharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Shard by elements across workers: each worker takes its share of the same global batches."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
