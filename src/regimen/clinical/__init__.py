"""Clinical dosing: body-size and renal formulas, patient values, the run's clinical options and the
preparation of a patient for a regimen, dose adjustments (levels, reductions, caps), rounding,
cumulative anthracycline and the formulary. Pure functions on exact numbers; no I/O but reading data files."""
