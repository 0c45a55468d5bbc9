"""Shared test configuration: hypothesis profiles and the jaxpr type-check hook.

Profiles: ``ci`` (default; derandomised, few examples, no deadline) and ``fuzz`` (thousands of
examples), chosen with ``--hypothesis-profile=fuzz`` or ``HYPOTHESIS_PROFILE=fuzz``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The suite tests compiled code against the reference interpreter, so programs compile before
# their first call returns (tiered execution has its own tests, which turn it on).
os.environ.setdefault("FUNCTRACE_TIERED", "0")

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("fuzz", deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Every primitive the op tests apply also runs compiled by jit and is compared with the
# reference implementation (see jit_check.py; FUNCTRACE_JIT_CHECK=0 turns it off).
from jit_check import jit_every_primitive, pytest_terminal_summary  # noqa: E402, F401
