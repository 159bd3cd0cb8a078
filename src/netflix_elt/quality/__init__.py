"""Stage 3: the data-quality checks, their stored results, and the state a run publishes for
readers.
"""
