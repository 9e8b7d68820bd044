"""``runtime/context.py``: the occurrence counter behind the exploration draw."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from langchain_automix.runtime.context import Occurrences


def test_counts_each_key_from_zero() -> None:
    seen = Occurrences()
    assert [seen.next("a") for _ in range(3)] == [0, 1, 2]
    assert seen.next("b") == 0 and seen.next("a") == 3
    assert seen.next("\ud800 lone surrogate") == 0  # any text a JSON body can carry


def test_forgets_the_least_recently_seen_past_its_bound() -> None:
    seen = Occurrences(max_keys=2)
    seen.next("a")
    seen.next("b")
    seen.next("a")  # "b" is now the least recently seen
    seen.next("c")
    assert len(seen) == 2
    assert seen.next("a") == 2 and seen.next("b") == 0  # "b" was forgotten


def test_counts_are_exact_under_threads() -> None:
    seen = Occurrences()
    with ThreadPoolExecutor(8) as pool:
        got = sorted(pool.map(lambda _: seen.next("q"), range(2_000)))
    assert got == list(range(2_000))


def test_refuses_an_empty_bound() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        Occurrences(max_keys=0)
