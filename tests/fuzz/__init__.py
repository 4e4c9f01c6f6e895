"""Shared pieces of the fuzz tests (tests/test_fuzz_*.py): settings profiles, envelope
builders that can also break an envelope on purpose, message strategies and store snapshots.

The profile comes from QINGFENG_FUZZ:
  ci    (default) 10,000 examples per entry point, derandomized so CI is repeatable
  long  `make fuzz`: 200,000 examples per entry point, a fresh random seed each run
  quick 300 examples, for a fast local loop while editing a test
No profile writes a .hypothesis folder (database=None).

No atheris: the one parser a stranger reaches (bot/wire.py) is expat behind defusedxml plus a
few lines of Python, so coverage guidance has little to steer, and atheris needs a clang
toolchain to build; 200,000 structured examples per entry point (`make fuzz`) reach further.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {
    "ci": {"max_examples": 10_000, "derandomize": True},
    "long": {"max_examples": 200_000, "derandomize": False},
    "quick": {"max_examples": 300, "derandomize": True},
}
PROFILE = os.environ.get("QINGFENG_FUZZ", "ci")
if PROFILE not in PROFILES:
    raise RuntimeError(f"QINGFENG_FUZZ must be one of {', '.join(PROFILES)}, got {PROFILE!r}")

# One app and one database per test function, shared by its examples: that is the point
# (cheap examples), so the function-scoped-fixture health check does not apply. Big random
# inputs are wanted, so the size checks are off too.
FUZZ = settings(
    **PROFILES[PROFILE],
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)
