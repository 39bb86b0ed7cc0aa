"""Outputs of a plan: one module per format (records for CSV/JSON/DataFrame, table for the terminal)."""

#: Under every output a person reads (here, not in the table's module, so that the worklist writes it without loading
#: the plan engine).
DISCLAIMER = "Research software: verify every dose against the protocol and local policy before use."
