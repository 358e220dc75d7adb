"""Replacing the four read-only Review layers by multiscale ones (napari cannot switch a layer between
the two): the time of each replacement (session 28's probe; ``TINY=1``: 2 x 2 data).

    xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=. .venv/bin/python benchmarks/multiscale_probe/replace.py
"""
import os, time
os.environ.setdefault("QT_API", "pyside6")
import numpy as np, napari
from qtpy.QtWidgets import QApplication
from vessel_studio.gui import review_layers
viewer = napari.Viewer(show=True)
review_layers.ensure(viewer, opacity=0.6, contour=False, on_paint=lambda *a: None)
app = QApplication.instance()
def pump(t):
    e = time.perf_counter() + t
    while time.perf_counter() < e: app.processEvents(); time.sleep(0.002)
pump(1)
img = np.zeros((3900, 3800, 3), np.uint8); p = np.random.rand(3900, 3800).astype(np.float32)
tiny = os.environ.get("TINY") == "1"
for name in ("image", "compare", "probability", "uncertainty"):
    t = time.perf_counter()
    d = img if name == "image" else p
    if tiny: d = d[:2, :2]
    review_layers.set_layer(viewer, name, d, "image", placeholder_shape=None, multiscale=True, rgb=name == "image",
                            visible=name in ("image", "probability"), contrast_limits=None if name == "image" else (0, 1))
    print(name, round((time.perf_counter() - t) * 1000), "ms")
t = time.perf_counter(); viewer.reset_view(); app.processEvents(); print("draw", round((time.perf_counter() - t) * 1000))
t = time.perf_counter(); pump(0.5); print("pump", round((time.perf_counter() - t) * 1000))
viewer.close()
