"""keras-hdl: synthetic digital twins of 3Dir myocardial velocity mapping MRI.

Importing the package is cheap: TensorFlow is only imported by the modules that
build or run networks (``keras_hdl.models``, ``keras_hdl.training``, ...).
"""

__version__ = "0.1.0"
