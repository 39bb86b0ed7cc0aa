"""The web app and HTTP API (``regimen serve``): a second door onto the same library as the command line.

Nothing is computed here: plans come from :func:`regimen.engine.expand.expand`, tables, calendars, charts, handouts
and FHIR from :mod:`regimen.export`; this layer parses requests with the command line's parsers and renders pages.
"""
