"""Where patient photos are kept: the content-addressed file store (:mod:`.store`), the one rule
for whether a stored file is still referenced (:mod:`.references`) and the orphan sweep
(:mod:`.sweep`). Checking, decoding and sanitizing an upload is :mod:`model.intake`."""
