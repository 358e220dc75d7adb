"""The Adaptation panel's live previews keep their aspect and are made at the screen's device pixels.

Session 44 (session 43's leftover, previews at 200 %): a preview is the synthetic image beside its source mask
(``adaptation.rounds.montage``, 128 x 63 px for the 64-px crops of the cpu preset), and the panel stretched it into its
72 x 72 px box (``QLabel.setScaledContents``): the pair squeezed to half its width at any scale, and at 200 % the
63 rows drawn over the box's 144 device pixels. Previews are now fitted to the box with their aspect kept, at the
screen's device pixels (``qtutil.fitted_pixmap``, as the Project panel's thumbnails are since session 43), and made
again when the window goes to a screen of another scale.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _montage(value: int = 128) -> np.ndarray:
    """A preview as a cpu-preset round makes it: a 64-px synthetic crop beside its mask, at most 128 px a side."""
    from vessel_studio.adaptation.rounds import _thumb, montage

    rng = np.random.default_rng(value)
    image = np.full((1, 64, 64), value / 255, np.float32) + rng.normal(0, 0.01, (1, 64, 64)).astype(np.float32)
    mask = (rng.random((1, 64, 64)) > 0.9).astype(np.float32)
    return _thumb(montage(image, mask))


def _shown_size(label) -> tuple[float, float]:
    """The logical size the label draws its pixmap at."""
    pix = label.pixmap()
    if label.hasScaledContents():
        return label.contentsRect().width(), label.contentsRect().height()
    return pix.width() / pix.devicePixelRatio(), pix.height() / pix.devicePixelRatio()


def test_a_preview_keeps_its_aspect_in_its_box(studio):
    from vessel_studio.events import Preview

    adapt = studio.panels["Adaptation"]
    image = _montage()
    assert image.shape == (63, 128)
    adapt._preview(Preview("synthesize", "round 0 synthetic 0", image, round=0))
    width, height = _shown_size(adapt.previews[0])
    assert width <= 72 and height <= 72
    assert width / height == pytest.approx(128 / 63, rel=0.05)  # before: 72 x 72, the pair squeezed to half


def test_previews_are_made_at_the_screens_device_pixels(studio, monkeypatch):
    """At 200 % (the labels' device pixel ratio given as 2: the test's X screen is at 100 %) a preview is 144 device px
    wide, drawn at ratio 2; back on a screen at 100 % (Qt's DevicePixelRatioChange) it is made again at 72."""
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication, QLabel

    from vessel_studio.events import Preview
    from vessel_studio.gui.qtutil import fitted_pixmap

    adapt = studio.panels["Adaptation"]
    ratio = [2.0]
    monkeypatch.setattr(QLabel, "devicePixelRatioF", lambda self: ratio[0])
    # the pixmaps the panel gives its labels (Qt 6's QLabel.pixmap() gives one drawn for the X screen's own ratio)
    given = {}
    monkeypatch.setattr(QLabel, "setPixmap", lambda self, pix, real=QLabel.setPixmap: (
        given.__setitem__(id(self), pix), real(self, pix))[-1])
    for value in (40, 80, 120, 160, 200):  # five previews: the newest four are shown, newest first
        adapt._preview(Preview("synthesize", f"synthetic {value}", _montage(value), round=0))
    for label, value in zip(adapt.previews, (200, 160, 120, 80)):
        pix = given[id(label)]
        assert pix.devicePixelRatio() == 2.0 and pix.width() == 144  # before: 128 px at ratio 1, stretched
        assert pix.toImage() == fitted_pixmap(_montage(value), 72, 2.0).toImage()
    ratio[0] = 1.0
    given.clear()
    QApplication.sendEvent(adapt, QEvent(QEvent.Type.DevicePixelRatioChange))
    for label in adapt.previews:
        assert given[id(label)].devicePixelRatio() == 1.0 and given[id(label)].width() == 72
