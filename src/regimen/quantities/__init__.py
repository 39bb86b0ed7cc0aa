"""Quantities: the one pint registry and unit parsing, exact numbers and how they are shown, days and rules.

The lowest layer above :mod:`regimen.errors`: nothing here knows what a regimen or a patient is.
"""
