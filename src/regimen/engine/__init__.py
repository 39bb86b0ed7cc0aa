"""The engine: a regimen and a patient become a :class:`~regimen.engine.plan.Plan` (expand), the one row
schema every output uses (rows), cohorts (one runner, pandas and Dask backends) and the supply forecast."""
