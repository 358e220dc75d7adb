"""Multiscale at full zoom: the region napari has sliced (``corner_pixels``) at each draw after a pan
(session 28's probe): the first draw after a pan still has the old region, so the strip the pan uncovers
is drawn empty for one frame.

    xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=. .venv/bin/python benchmarks/multiscale_probe/pan_frame.py
"""
import os, time
os.environ.setdefault("QT_API", "pyside6")
import numpy as np, napari
from qtpy.QtWidgets import QApplication
from vessel_studio.gui import review_layers, tasks
viewer = napari.Viewer(show=True); viewer.window._qt_window.resize(1600, 1000)
app = QApplication.instance()
canvas = viewer.window._qt_viewer.canvas._scene_canvas
img = np.random.randint(0, 255, (3900, 3800, 3), np.uint8)
layer = viewer.add_image(review_layers.pyramid(img), multiscale=True, rgb=True)
def pump(t):
    e = time.perf_counter() + t
    while time.perf_counter() < e: app.processEvents(); time.sleep(0.002)
viewer.reset_view(); pump(1); viewer.camera.zoom = 1.0; viewer.camera.center = (1900, 1900); pump(1)
seen = []
canvas.events.draw.connect(lambda e: seen.append(np.array(layer.corner_pixels).tolist()), position="first")
for k in range(3):
    seen.clear()
    viewer.camera.center = (1900 + 200 * (k + 1), 1900 + 200 * (k + 1))
    pump(0.3)
    print("pan", k, "corner pixels at each draw:", seen)
viewer.close()
