"""Evaluation of the urgency (diagnosis / malignancy) model. Pure numpy: no torch, no mlflow, no
matplotlib (plots live in :mod:`training.urgency.plots`).

- :mod:`~training.evaluation.predictions`: :class:`Predictions` (per photo) and its CSV;
- :mod:`~training.evaluation.metrics`: weighted kernels, metric functions, operating points,
  :class:`Metric`;
- :mod:`~training.evaluation.bootstrap`: patient-cluster bootstrap and percentile intervals;
- :mod:`~training.evaluation.subgroups`: per-subgroup tables with Wilson intervals;
- :mod:`~training.evaluation.report`: :func:`evaluate` and :class:`EvaluationReport`;
- :mod:`~training.evaluation.comparison`: :func:`compare` (candidate vs champion);
- :mod:`~training.evaluation.formatting`: titles, numbers and JSON values of the reports.
"""
