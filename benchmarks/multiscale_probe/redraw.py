"""A redraw with no data change (15-MP image and map on screen): vispy's draw vs the whole event
processing of the frame (Qt compositing the GL canvas into the window under Xvfb). Session 28's probe.

    xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=. .venv/bin/python benchmarks/multiscale_probe/redraw.py
"""
import os, time
os.environ.setdefault("QT_API", "pyside6")
import numpy as np, napari
from qtpy.QtWidgets import QApplication
viewer = napari.Viewer(show=True); viewer.window._qt_window.resize(1600, 1000)
app = QApplication.instance()
sc = viewer.window._qt_viewer.canvas._scene_canvas
d = []
sc.events.draw.connect(lambda e: d.append(time.perf_counter()), position="first")
sc.events.draw.connect(lambda e: d.append(time.perf_counter()), position="last")
img = np.random.randint(0, 255, (3900, 3800, 3), np.uint8)
viewer.add_image(img, rgb=True); viewer.add_image(np.random.rand(3900, 3800).astype(np.float32), blending="additive")
def pump(t):
    e = time.perf_counter() + t
    while time.perf_counter() < e: app.processEvents(); time.sleep(0.002)
pump(1.5)
tot, dr = [], []
for k in range(10):
    d.clear(); t = time.perf_counter(); sc.update()
    while len(d) < 2: app.processEvents()
    for _ in range(20): app.processEvents()
    tot.append((time.perf_counter() - t) * 1000); dr.append((d[1] - d[0]) * 1000); pump(0.1)
print("redraw, no data change: vispy draw", round(float(np.median(dr)), 1), "ms; whole event processing", round(float(np.median(tot)), 1), "ms")
viewer.close()
