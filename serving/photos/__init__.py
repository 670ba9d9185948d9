"""Where patient photos are kept: the store's interface and keys (:mod:`.store`), its backends (the
local folder :mod:`.local`, the encrypted folder :mod:`.sealed`, an S3 bucket :mod:`.s3`) and the one
place a backend is chosen (:mod:`.backends`), the one rule for whether a stored object is still
referenced (:mod:`.references`), writing a request's photos (:mod:`.files`) and the orphan sweep
(:mod:`.sweep`). Checking, decoding and sanitizing an upload is :mod:`model.intake`."""
