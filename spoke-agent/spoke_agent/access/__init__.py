"""Target access: the target side mints and seals it, the source side opens and uses it."""
