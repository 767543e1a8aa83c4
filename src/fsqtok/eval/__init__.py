"""Measuring: metrics, the evaluation stages, HTML reports, plots and benchmarks."""
