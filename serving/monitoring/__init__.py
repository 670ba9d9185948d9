"""Monitoring the models on the service's own patients (``GET /v1/metrics/model``, the "Model
performance" page): the triage at submission against the cases' outcome labels, the calibration of
the malignancy probability, the quality gate against the dermatologists' retake requests, and the
input drift against the training data. ``figures`` and ``drift`` count (pure functions), ``service``
reads the cases, ``reference`` loads what the inputs are compared with."""
