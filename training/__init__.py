"""Training loops, data pipelines and distribution strategies (installed as ``keras_hdl.training``)."""
