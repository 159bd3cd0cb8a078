"""Stage 2: run the dbt project per batch (staging, CDC current, history, bridges, KPIs) and record
what each batch changed.
"""
