"""What chaos, soak, the benchmarks and the demo run against: scratch databases and systems, callers, reports."""
