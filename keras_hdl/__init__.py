"""keras-hdl: synthetic digital twins of 3Dir myocardial velocity mapping MRI.

Importing the package is cheap: TensorFlow is only imported by the modules that
build or run networks (``keras_hdl.models``, ``keras_hdl.training``, ...).

It sets one TensorFlow switch, before TensorFlow is imported (TensorFlow reads it once, then):
``TF_ENABLE_ONEDNN_OPTS=1``, unless the environment already sets it. TensorFlow turns its oneDNN
kernels on by itself only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX; elsewhere (AVX2-only
CPUs) its convolutions fall back to Eigen, whose gradients ran 2.4× slower: a ``cpu``-preset
interpolator training step took 7.4 against 3.1 s of CPU time on a 2-core AVX2 EPYC
(``python -m keras_hdl.benchmarks.profile``). On that CPU the paper preset goes the other way (its
training 1.12× faster with Eigen; docs/benchmarks.md): ``TF_ENABLE_ONEDNN_OPTS=0`` keeps Eigen. A
program that imports TensorFlow before keras-hdl keeps TensorFlow's own choice.
"""

import os as _os

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
_os.environ.setdefault(ONEDNN_ENV, "1")

__version__ = "0.1.0"
