import gc

import pytest

from recommender.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _gc_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_restored_after():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_uses_keep_it_paused_until_the_outermost_ends():
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_left_off_when_it_was_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_restored_when_the_block_raises():
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_as_a_decorator_each_call_pauses_and_restores():
    @gc_paused()
    def inside(depth: int) -> list[bool]:
        here = [gc.isenabled()]
        return here + inside(depth - 1) if depth else here

    assert inside(2) == [False, False, False]
    assert gc.isenabled()
    assert inside.__name__ == "inside"
