"""Benchmarks, each printing ratios against a baseline measured in the same run (timings here are noisy)."""
