"""The mask pieces behind the Review panel's "Erase piece" and "Remove specks" (session 27):
8-connected, the speck size scaled to the image from the fragmentation signal's MIN_OBJECT."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.measures import MIN_OBJECT, piece_at, remove_small_pieces, small_pieces, speck_size


def _mask():
    """A diagonal one-pixel line (one 8-connected piece of 6 px, six 4-connected ones), a 3x3 speck,
    a 2x5 bar and a 1-px dot."""
    m = np.zeros((20, 20), bool)
    for i in range(6):
        m[2 + i, 2 + i] = True
    m[14:17, 3:6] = True  # 9 px
    m[10:12, 12:17] = True  # 10 px
    m[18, 18] = True  # 1 px
    return m


def test_piece_at_is_eight_connected():
    m = _mask()
    piece = piece_at(m, (2, 2))
    assert piece.sum() == 6 and piece[7, 7]  # the whole diagonal, not just its first pixel
    assert piece_at(m, (15.4, 4.6)).sum() == 9  # rounded to the nearest pixel
    assert piece_at(m, (0, 0)) is None  # background
    assert piece_at(m, (-1, 3)) is None and piece_at(m, (3, 20)) is None  # outside
    assert piece_at(m.astype(np.uint8) * 255, (10, 12)).sum() == 10  # any dtype, > 0


def test_small_pieces_below_the_size_only():
    m = _mask()
    small, n, total = small_pieces(m, 10)
    assert total == 4 and n == 3  # the 10-px bar stays: "smaller than"
    assert small.sum() == 6 + 9 + 1 and not small[10:12, 12:17].any()
    kept, removed, px = remove_small_pieces(m, 10)
    assert (removed, px) == (3, 16)
    assert np.array_equal(kept, m & ~small) and kept.sum() == 10
    assert remove_small_pieces(m, 1)[1:] == (0, 0)
    assert small_pieces(np.zeros((5, 5), bool), 10)[1:] == (0, 0)
    with pytest.raises(ValueError):
        small_pieces(m, 0)
    with pytest.raises(ValueError):
        small_pieces(np.zeros((2, 2, 2)), 3)


def test_speck_size_scales_min_object_by_area():
    assert speck_size((584, 565)) == 11  # DRIVE: about MIN_OBJECT
    assert speck_size((960, 999)) == 32  # CHASE_DB1
    assert 500 < speck_size((3900, 3900, 3)) < 540  # a 15-MP camera image
    assert speck_size((304, 304)) == MIN_OBJECT  # never below MIN_OBJECT (OCTA-500)
    with pytest.raises(ValueError):
        speck_size((0, 10))


def test_fragmentation_uses_the_same_pieces():
    """selection's fragment count drops the pieces small_pieces finds (one definition of a speck)."""
    from vessel_studio.adaptation import selection

    assert selection.MIN_OBJECT == MIN_OBJECT
    m = _mask().astype(np.float32)
    n, _ = selection.fragment_counts(m)
    assert n == 1  # only the 10-px bar is not a speck
