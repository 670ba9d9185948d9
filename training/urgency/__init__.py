"""The urgency model (diagnosis and malignancy from a photo and the questionnaire): data, training,
plots, model card, promotion."""
