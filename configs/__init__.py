"""Model and training presets (YAML), installed as ``keras_hdl.configs``."""
