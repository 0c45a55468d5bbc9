"""The Numba backend: compiles whole jaxprs into native code (see docs/backend.md)."""
