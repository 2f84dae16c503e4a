"""SavedModel, TensorFlow Serving and TFLite export (installed as ``keras_hdl.export``)."""
