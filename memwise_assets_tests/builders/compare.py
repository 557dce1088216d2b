"""Comparisons of computed columns with their references."""

from __future__ import annotations

import numpy as np


def assert_same(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    """Equal NaN positions and values within 1e-9 relative (1e-12 absolute near zero)."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, what
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=what)
    # Ratios minus one sit near zero, where relative error is meaningless: 1e-12 absolute.
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=what)
