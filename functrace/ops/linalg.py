"""(being written) primitives of the linalg family, each with all its rules in one place."""

from __future__ import annotations

__all__: list[str] = []
