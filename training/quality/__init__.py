"""The learned image-quality model: data (degraded photos), training, evaluation."""
