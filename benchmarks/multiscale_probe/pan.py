"""GUI-thread time per pan event at full zoom (camera zoom 1) over a 15-MP image, its map and a compared
map (session 28's probe): single-scale (default) or ``MS=1`` multiscale (a pan re-slices the level in view).

    xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=. .venv/bin/python benchmarks/multiscale_probe/pan.py
"""
import os, time
from pathlib import Path
os.environ.setdefault("QT_API", "pyside6")
import numpy as np, napari
from qtpy.QtWidgets import QApplication
from vessel_studio.gui import review_layers, tasks
from PIL import Image
MS = os.environ.get("MS") == "1"
if MS: tasks.MULTISCALE_PIXELS = 4_000_000
else: tasks.MULTISCALE_PIXELS = 10**12
viewer = napari.Viewer(show=True)
viewer.window._qt_window.resize(1600, 1000)
review_layers.ensure(viewer, opacity=0.6, contour=False, on_paint=lambda *a: None)
app = QApplication.instance()
canvas = viewer.window._qt_viewer.canvas._scene_canvas
draws = []
canvas.events.draw.connect(lambda e: draws.append(time.perf_counter()), position="first")
canvas.events.draw.connect(lambda e: draws.append(time.perf_counter()), position="last")
def pump(t):
    e = time.perf_counter() + t
    while time.perf_counter() < e: app.processEvents(); time.sleep(0.002)
img = np.asarray(Image.open(sorted(Path(os.environ.get("HIRES_JPEG", "scratch/hires-data/jpeg")).glob("*.jpg"))[0]).convert("RGB"))
p = np.clip(1 - img[..., 1] / 127.5, 0, 1).astype(np.float32)
ms = review_layers.multiscale(img)
review_layers.set_layer(viewer, "image", img, "image", placeholder_shape=None, multiscale=ms, rgb=True)
review_layers.set_layer(viewer, "probability", p, "image", placeholder_shape=None, multiscale=ms, colormap="magma", blending="additive", contrast_limits=(0, 1))
review_layers.set_layer(viewer, "compare", p[::-1].copy(), "image", placeholder_shape=None, multiscale=ms, colormap="green", blending="additive", contrast_limits=(0, 1))
review_layers.set_mask(viewer, p > 0.5, opacity=0.6, contour=False, on_paint=lambda *a: None)
viewer.reset_view(); pump(1.5)
viewer.camera.zoom = 1.0; viewer.camera.center = (1900, 1900); pump(1.0)
res = []
for k in range(30):
    t = time.perf_counter()
    viewer.camera.center = (1900 + 20 * (k + 1), 1900 + 20 * (k + 1))
    del draws[:]
    pump(0.15)  # the draw, any re-slice and redraw that follows
    res.append(sum(b - a for a, b in zip(draws[::2], draws[1::2])) * 1000 + (draws[0] - t) * 1000)
    ndraw = len(draws) // 2
print("draws per pan", ndraw); print("MS" if MS else "single", "GUI time per pan event (to the first draw, and the draws in the 0.15 s after it) ms median", round(float(np.median(res)), 1), "max", round(max(res), 1))
print("levels", viewer.layers["image"].data_level if ms else "-", "visible level shape", viewer.layers["image"]._slice.image.view.shape if hasattr(viewer.layers["image"], "_slice") else "")
viewer.close()
