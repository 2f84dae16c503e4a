"""`keras-hdl evaluate`: the paper's experiments (Tables I–III, Figs. 5, 8, 9, 10) on held-out phantom subjects.

- :mod:`~keras_hdl.evaluation.experiment`: :func:`evaluate` and its options (the command's plain function);
- :mod:`~keras_hdl.evaluation.runs`: which trained networks are compared (``--runs``, shipped, ``--train-missing``);
- :mod:`~keras_hdl.evaluation.data`: the test split and the LV crops every method is scored on;
- :mod:`~keras_hdl.evaluation.interpolation`, :mod:`~keras_hdl.evaluation.phase`,
  :mod:`~keras_hdl.evaluation.velocity`: the three tables;
- :mod:`~keras_hdl.evaluation.figures`, :mod:`~keras_hdl.evaluation.report`: figures, report.md, results.json;
- :mod:`~keras_hdl.evaluation.circles`: the appendix experiment (``--experiment circles``).

Import the submodules directly: this package imports nothing heavy itself.
"""
