"""keras-hdl packaging.

The requested top-level folders ``training/``, ``export/`` and ``configs/`` install
*inside* the package as ``keras_hdl.training``, ``keras_hdl.export`` and
``keras_hdl.configs`` (docs/design.md §6), so nothing named ``training`` or ``export`` lands
at the top of site-packages.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "keras_hdl" / "__init__.py").read_text(), re.M).group(1)

library_packages = find_packages(include=["keras_hdl", "keras_hdl.*"])
mapped_packages = {
    "keras_hdl.training": "training",
    "keras_hdl.export": "export",
    "keras_hdl.configs": "configs",
}
for dotted, folder in mapped_packages.items():
    library_packages.append(dotted)
    library_packages += [f"{dotted}.{sub}" for sub in find_packages(where=folder)]

setup(
    name="keras-hdl",
    version=VERSION,
    description="Synthetic digital twins of 3Dir myocardial velocity mapping MRI (the HDL method) in Keras 3",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=library_packages,
    package_dir={"keras_hdl": "keras_hdl", **mapped_packages},
    package_data={"keras_hdl.configs": ["*.yaml", "experiments/*.yaml"], "keras_hdl": ["weights/*"]},
    install_requires=[
        # The full wheel, not tensorflow-cpu: tensorflow-serving-api requires `tensorflow`.
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<3.16",
        "numpy>=2.0,<2.5",
        "scipy>=1.13,<1.19",
        "pydicom>=3.0,<4",
        "highdicom>=0.28,<0.29",
        "nibabel>=5.2,<6",
        "click>=8.1,<9",
        "matplotlib>=3.8,<4",
        "pyyaml>=6.0,<7",
        "tqdm>=4.66,<5",
        "tensorboard>=2.20,<2.22",
        "pytest>=8.0,<10",
    ],
    extras_require={
        "test": [
            "pytest-xdist>=3.5,<4",
            "scikit-image>=0.24,<0.27",
            "scikit-learn>=1.5,<1.10",
            "ai-edge-litert>=2.0,<3",
            "ruff>=0.6,<0.18",
            # pydicom's larger test files (Enhanced MR, compressed, damaged) for tests/dicom
            "pydicom-data>=1.0,<2",
            # the reference network's tests (tests/benchmarks/test_reference_network.py); see "reference"
            "torch>=2.13.0,<=2.13.0",
        ],
        "evaluate": ["scikit-learn>=1.5,<1.10", "scikit-image>=0.24,<0.27"],
        "tflite": ["ai-edge-litert>=2.0,<3"],
        # The reference network of `keras-hdl benchmark --reference` (keras_hdl/benchmarks/reference.py).
        # Pinned to one release: its CPU build installs without the CUDA wheels a looser range pulls in.
        "reference": ["torch>=2.13.0,<=2.13.0"],
        # NVIDIA GPUs: TensorFlow with its CUDA/cuDNN wheels (scripts/gpu_benchmark.sh).
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
    },
    entry_points={"console_scripts": ["keras-hdl = keras_hdl.cli:main"]},
)
