"""Running it: the pipeline that chains the stages, rebuild and verify, the schedule."""
