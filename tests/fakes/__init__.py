"""Local fake provider servers for tests and benchmarks."""
