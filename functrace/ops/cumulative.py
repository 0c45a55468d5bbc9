"""(being written) primitives of the cumulative family, each with all its rules in one place."""

from __future__ import annotations

__all__: list[str] = []
