"""The differential fuzzer in the test suite: 2,000 random programs, and a share of them natively.

Each program goes through the reference executor after all passes, eager mode, and its
generated code (interpreted) with every pass and with none; the configurations with one pass
disabled take turns (program i disables pass i mod 5), so each is seen 400 times. Every 50th
program is also compiled by Numba; every 4th is also rebuilt with a dimension given at call
time and compiled under a memory budget. `make fuzz` runs every oracle on every program, 20,000 of
them. A failure prints the mismatch and the shrunk program as a script.
"""

from __future__ import annotations

import pytest

from .oracles import CONFIGS, check_program
from .shrink import explain

PROGRAMS = 2000
CHUNK = 50
NATIVE_EVERY = 50
REBUILT_EVERY = 4  # rebuilt with unknown sizes and under a memory budget: every 4th program here, all in make fuzz
BASE = 0  # make test checks programs 0 .. PROGRAMS-1; make fuzz draws its own


def _configs(i: int) -> list[tuple[str, dict[str, object]]]:
    one_off = CONFIGS[2:]
    return [CONFIGS[0], CONFIGS[1], one_off[i % len(one_off)]]


@pytest.mark.parametrize("start", range(BASE, BASE + PROGRAMS, CHUNK))
def test_random_programs_agree_everywhere(start: int) -> None:
    for i in range(start, start + CHUNK):
        found = check_program(i, native=i % NATIVE_EVERY == 0, configs=_configs(i), native_configs=CONFIGS[:1],
                              rebuilt=i % REBUILT_EVERY == 0)
        if found:
            pytest.fail(explain(found[0], budget=150), pytrace=False)
