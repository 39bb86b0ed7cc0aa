"""The regimen file: loading and validation, the JSON Schema built from the loader's own field tables,
the catalog (finding a regimen by id) and the protocol described in words."""
