"""fedq benchmarks (run as modules: ``python -m benchmarks.tpch``)."""
