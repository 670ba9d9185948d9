"""What is kept at rest, as a whole: backups and restores of the embedded default (:mod:`.backup`)
and rotating the storage key (:mod:`.rotation`)."""
