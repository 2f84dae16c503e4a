"""TFRecord shards of slice cines: what ``keras-hdl prepare`` writes and training streams.

One ``tf.train.Example`` per slice cine (see :mod:`keras_hdl.training.data`), with
serialised tensors ``magnitude`` (T, C, C) float16, ``mask`` (T, C, C) uint8,
``phase`` (T, C, C, 3) int16 raw phase (φ = p / 2048 − 1, to the nearest of the 4096 levels)
re-expressed as displacement per frame, ``venc`` (3,) float32 cm/s (the venc that phase is at,
:func:`keras_hdl.series.displacement_venc`) and ``pixel_spacing`` (2,) float32 mm; T is the cine's
own frame count (streamed cines are padded to the longest, as
:class:`~keras_hdl.training.data.SliceCines` holds them).
float16 magnitudes keep a relative precision of 1e-3, far below the images' noise, and halve the disk footprint.
Files are read with ``tf.data.TFRecordDataset``, so shards may live on any file
system TensorFlow reads (local disk, ``gs://``, ``s3://`` with the right plug-in).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.series import PHASE_LEVELS, REFERENCE_FRAME_INTERVAL_MS
from keras_hdl.training.data import SliceCines, parallel_map

_FEATURES = {
    "magnitude": tf.io.FixedLenFeature([], tf.string),
    "mask": tf.io.FixedLenFeature([], tf.string),
    "phase": tf.io.FixedLenFeature([], tf.string),
    "venc": tf.io.FixedLenFeature([3], tf.float32),
    "pixel_spacing": tf.io.FixedLenFeature([2], tf.float32),
}
INDEX_FILE = "shards.json"
PHASE_EXPRESSION = {"displacement_per_frame_ms": REFERENCE_FRAME_INTERVAL_MS}
"""What the index says of the stored phase; shards without it hold velocity phase (written before the
frame-interval fix) and would teach a phase network the wrong scale."""
PHASE_HALF_RANGE = PHASE_LEVELS / 2


def _bytes_feature(tensor: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(tensor).numpy()]))


def raw_phase(normalized: np.ndarray) -> np.ndarray:
    """Normalised phase in [−1, 1] → raw int16 phase p = (φ + 1) · 2048, exact for quantised phase."""
    return np.round((np.asarray(normalized, np.float64) + 1.0) * PHASE_HALF_RANGE).astype(np.int16)


def _float_feature(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def write_shards(cines: SliceCines, out_dir: str | Path, cines_per_shard: int = 64) -> list[Path]:
    """Write ``cines`` as TFRecord shards plus a ``shards.json`` index into ``out_dir`` (atomically)."""
    count = cines.num_cines
    num_shards = max(1, -(-count // cines_per_shard))
    out_dir = Path(out_dir)
    names = [f"cines-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for shard, name in enumerate(names):
            with tf.io.TFRecordWriter(str(tmp / name)) as writer:
                for i in range(shard * cines_per_shard, min(count, (shard + 1) * cines_per_shard)):
                    frames = int(cines.frames[i])
                    example = tf.train.Example(
                        features=tf.train.Features(
                            feature={
                                "magnitude": _bytes_feature(cines.magnitude[i, :frames].astype(np.float16)),
                                "mask": _bytes_feature(cines.mask[i, :frames].astype(np.uint8)),
                                "phase": _bytes_feature(raw_phase(cines.phase[i, :frames])),
                                "venc": _float_feature(cines.venc[i]),
                                "pixel_spacing": _float_feature(cines.pixel_spacing[i]),
                            }
                        )
                    )
                    writer.write(example.SerializeToString())
        index = {
            "cines": count,
            "frames": cines.num_frames,
            "fewest_frames": cines.fewest_frames,
            "crop_size": cines.magnitude.shape[-1],
            "files": names,
            "phase": PHASE_EXPRESSION,
        }
        write_json(tmp / INDEX_FILE, index, newline=False)
    return [out_dir / name for name in names]


def parse_cine(record: tf.Tensor) -> dict:
    """One serialised Example → the cine dict of float32 tensors (T frames) and its ``frames`` T."""
    parsed = tf.io.parse_single_example(record, _FEATURES)
    magnitude = tf.cast(tf.io.parse_tensor(parsed["magnitude"], tf.float16), tf.float32)
    return {
        "magnitude": magnitude,
        "mask": tf.cast(tf.io.parse_tensor(parsed["mask"], tf.uint8), tf.float32),
        "phase": tf.cast(tf.io.parse_tensor(parsed["phase"], tf.int16), tf.float32) / PHASE_HALF_RANGE - 1.0,
        "venc": parsed["venc"],
        "pixel_spacing": parsed["pixel_spacing"],
        "frames": tf.shape(magnitude, out_type=tf.int32)[0],
    }


@dataclasses.dataclass(frozen=True)
class RecordShards:
    """A :class:`~keras_hdl.training.data.CineSource` that streams cines from TFRecord shards."""

    files: Sequence[str]
    num_frames: int
    crop_size: int
    num_cines: int
    fewest_frames: int

    @classmethod
    def open(cls, folder: str | Path) -> RecordShards:
        """Open a folder written by :func:`write_shards`."""
        index_path = Path(folder) / INDEX_FILE
        if not index_path.is_file():
            raise InputError(f"{folder}: no {INDEX_FILE}; write shards with `keras-hdl prepare`")
        index = json.loads(index_path.read_text())
        if index.get("phase") != PHASE_EXPRESSION:
            raise InputError(
                f"{folder}: these shards store phase as {index.get('phase', 'velocity (an older keras-hdl)')}, "
                f"not as displacement per {REFERENCE_FRAME_INTERVAL_MS:g} ms frame; prepare them again with "
                "`keras-hdl prepare`"
            )
        files = [str(Path(folder) / name) for name in index["files"]]
        return cls(
            files, index["frames"], index["crop_size"], index["cines"], index.get("fewest_frames", index["frames"])
        )

    def stream(self, samples_per_cine: int, seed: int, epoch: int) -> tf.data.Dataset:
        """(cine dict, sample seed) pairs: files in a seeded order, each cine ``samples_per_cine`` times."""
        order = np.random.default_rng([seed, epoch]).permutation(len(self.files))
        files = tf.data.Dataset.from_tensor_slices([self.files[i] for i in order])
        records = files.interleave(
            tf.data.TFRecordDataset, cycle_length=min(4, len(self.files)), num_parallel_calls=tf.data.AUTOTUNE
        )
        cines = parallel_map(records, lambda record: self._shaped(parse_cine(record)))
        base = tf.constant([seed, epoch], tf.int64)

        def repeat_with_seeds(index, cine):
            seeds = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(base, index), samples_per_cine
            )
            repeated = tf.data.Dataset.from_tensors(cine).repeat(samples_per_cine)
            return tf.data.Dataset.zip(repeated, tf.data.Dataset.from_tensor_slices(seeds))

        return cines.enumerate().flat_map(repeat_with_seeds)

    def _shaped(self, cine: dict) -> dict:
        """The cine padded to the longest T, with static shapes (parsed tensors have none; augmentation needs them)."""
        frames, crop = self.num_frames, self.crop_size
        padding = frames - cine["frames"]
        cine = {
            **cine,
            "magnitude": tf.pad(cine["magnitude"], [[0, padding], [0, 0], [0, 0]], constant_values=-1.0),
            "mask": tf.pad(cine["mask"], [[0, padding], [0, 0], [0, 0]]),
            "phase": tf.pad(cine["phase"], [[0, padding], [0, 0], [0, 0], [0, 0]]),
        }
        shapes = {
            "magnitude": (frames, crop, crop),
            "mask": (frames, crop, crop),
            "phase": (frames, crop, crop, 3),
            "venc": (3,),
            "pixel_spacing": (2,),
            "frames": (),
        }
        return {name: tf.ensure_shape(value, shapes[name]) for name, value in cine.items()}

    def load(self) -> SliceCines:
        """Read every cine into memory (for small datasets and tests)."""
        records = tf.data.TFRecordDataset(list(self.files))
        cines = list(records.map(lambda record: self._shaped(parse_cine(record))).as_numpy_iterator())
        return SliceCines(**{name: np.stack([cine[name] for cine in cines]) for name in (*_FEATURES, "frames")})
