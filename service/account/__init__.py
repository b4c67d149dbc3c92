"""A user's account restored from a Chin Up export: the profile, journal and session corrections, every row
checked with the API's own models first (the export's layout and reader live in service.importers.account)."""
