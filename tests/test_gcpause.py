"""The cyclic collector paused around steps that build many acyclic objects, and restored."""

from __future__ import annotations

import gc

import pytest

from audit.support.gcpause import paused_collection


def test_the_collector_is_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with paused_collection():
        assert not gc.isenabled()
        with paused_collection():  # nested: the outer block still decides
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_restores_it_and_a_disabled_collector_stays_disabled() -> None:
    with pytest.raises(ValueError), paused_collection():
        raise ValueError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
