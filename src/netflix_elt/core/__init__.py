"""The foundation every stage stands on: errors and exit codes, the home and its paths, logging,
signals, fault points, the run lock, text and clock helpers, resource settings.
"""
