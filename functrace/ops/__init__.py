"""Primitive definitions, grouped by family; each primitive's rules sit together in its module."""
