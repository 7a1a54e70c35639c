"""Model-test setup: one CPU thread per test process, and parametrization of the mixin checks by the variant
under test (`cls.tester`).

A test method that takes `auto_class` and `head_class` runs once per head its variant serves; one that takes
`trainable_head` runs once per head with a loss. Variants therefore never carry skips for heads they lack.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_cpu_thread():
    """Tiny models run fastest on one thread, and parallel test workers then do not fight over cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_generate_tests(metafunc):
    tester = getattr(metafunc.cls, "tester", None)
    if tester is None:
        return
    if {"auto_class", "head_class"} <= set(metafunc.fixturenames):
        heads = list(tester.heads.items())
        metafunc.parametrize("auto_class, head_class", heads, ids=[head.__name__ for _, head in heads])
    if "trainable_head" in metafunc.fixturenames:
        heads = tester.trainable_heads()
        metafunc.parametrize("trainable_head", heads, ids=[head.__name__ for head in heads])
