"""The pure analysis on arrays: properties, synthetic signals with known answers, and the real recordings
of ../shared/data (skipped where that folder is absent)."""
