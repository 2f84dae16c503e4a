"""``python -m keras_hdl`` is the ``keras-hdl`` command."""

from keras_hdl.cli import main

main()
