"""Property-based tests under hostile input: bounded, reproducible, and counted.

`examples(n, ...)` is hypothesis's `@given` with at most `n` examples, a fixed seed (the same
examples in CI as on a laptop), a per-example deadline, and a tally of the examples each test
ran; `tests/conftest.py` prints the tally at the end of the run and each test asserts it ran.
STORYLINK_EXAMPLES_SCALE=10 runs ten times the examples, for a longer hunt than CI allows.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES_RUN: dict[str, int] = {}  # test name → examples it ran (generation, replay, shrinking)
PEER_COUNTS: dict[str, tuple[int, int]] = {}  # peer corpus → (articles read, inputs skipped)
# Per example: catches a hang (a regex gone quadratic) but not a busy machine. Examples take
# ~0.1 s; one took 6.6 s in a full CI run on two shared cores (dateparser loading its locale
# data on a first unparseable date), which a 5 s deadline turned into a flaky failure.
DEADLINE = timedelta(seconds=30)
SCALE = int(os.environ.get("STORYLINK_EXAMPLES_SCALE", "1"))  # e.g. 10 for a longer hunt


def examples(
    n: int, *strategies: st.SearchStrategy[Any], deadline: timedelta | None = DEADLINE
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate `body(*fixtures, *values)` into a pytest test that runs it on up to `n`
    generated inputs; its leading parameters (all but one per strategy) are pytest fixtures.

    One warm-up example runs first without a deadline, so that loading models or locale
    tables on a busy CI machine cannot make the timed examples flaky."""

    def wrap(body: Callable[..., None]) -> Callable[..., None]:
        parameters = list(inspect.signature(body).parameters.values())
        fixtures = parameters[: len(parameters) - len(strategies)]
        generated = [p.name for p in parameters[len(fixtures) :]]

        def test(**fixture_values: Any) -> None:
            ran = 0

            def runner(count: int, limit: timedelta | None) -> Callable[[], None]:
                @settings(
                    max_examples=count,
                    deadline=limit,
                    derandomize=True,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                )
                @given(st.tuples(*strategies))
                def run(values: tuple[Any, ...]) -> None:
                    nonlocal ran
                    ran += 1
                    body(**fixture_values, **dict(zip(generated, values, strict=True)))

                return run  # type: ignore[no-any-return]

            runner(1, None)()
            runner(n * SCALE, deadline)()
            EXAMPLES_RUN[body.__name__] = ran
            assert ran > 1, f"{body.__name__} ran no examples"

        test.__name__ = test.__qualname__ = body.__name__
        test.__doc__ = body.__doc__
        test.__module__ = body.__module__
        test.__signature__ = inspect.Signature(fixtures)  # type: ignore[attr-defined]
        return test

    return wrap


# ------------------------------------------------------------------ shared strategies


# Words in many scripts, with the punctuation, digits and spaces news text has
NEWS_ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "Zs", "Sc", "Sm"),
)
news_text = st.text(NEWS_ALPHABET, max_size=400)
any_text = st.text(max_size=400)  # every code point, surrogates excluded, controls included
