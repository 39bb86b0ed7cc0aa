"""Outputs of a plan: one module per format (records for CSV/JSON/DataFrame, table for the terminal)."""
