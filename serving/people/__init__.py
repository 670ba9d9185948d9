"""People: the dermatologists and administrators of an organization."""
