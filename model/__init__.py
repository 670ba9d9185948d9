"""Model core shared by training and serving. Imports no torch at module level."""
