"""What tests and benchmarks share: servers (in-process and `chinup serve` processes), users and devices,
scratch databases, waiting for the analysis to settle, and the one seeded synthetic workout generator."""
