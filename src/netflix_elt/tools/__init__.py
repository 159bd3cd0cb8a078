"""Developer tools that are not part of a pipeline run (synthetic catalog drops for tests and
benchmarks).
"""
