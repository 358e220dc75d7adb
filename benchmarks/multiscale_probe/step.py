"""One Review step's layer updates on 15-MP images, timed on the GUI thread (session 28's probe).

Shows 4 of the 15-MP JPEGs (``benchmarks/hires_data.py``) in turn in the Review panel's layers
(``review_layers``; synthetic maps from the green channel), times each layer's update, the whole call and
the vispy draw that follows, and prints a cProfile of the 7th step. ``MS=1``: the read-only layers as
multiscale (the prototype of commit "Multiscale prototype"), ``CMP=1`` / ``UNC=1``: compared map /
uncertainty visible, ``PROF=call``: profile the call only. Run under Xvfb:

    xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=. .venv/bin/python benchmarks/multiscale_probe/step.py
"""
import os, sys, time, cProfile, pstats, io
os.environ.setdefault("QT_API", "pyside6")
import numpy as np
from pathlib import Path
from PIL import Image
import napari
from qtpy.QtWidgets import QApplication
from vessel_studio.gui import review_layers, tasks

files = sorted(Path(os.environ.get("HIRES_JPEG", "scratch/hires-data/jpeg")).glob("*.jpg"))[:4]
data = []
for f in files:
    img = np.asarray(Image.open(f).convert("RGB"))
    g = img[..., 1].astype(np.float32) / 255
    prob = np.clip(1.0 - g * 2, 0, 1).astype(np.float32)
    unc = tasks.uncertainty(prob); other = prob[::-1].copy()
    if os.environ.get("MS") == "1":
        def lv(a):
            out = [a]
            while max(out[-1].shape[:2]) > 1024:
                out.append(np.ascontiguousarray(out[-1][::2, ::2]))
            return out
        img, prob, unc, other = lv(img), lv(prob), lv(unc), lv(other)
        data.append((img, prob, unc, other, prob[0] > 0.5))
    else:
        data.append((img, prob, unc, other, prob > 0.5))
viewer = napari.Viewer(show=True)
viewer.window._qt_window.resize(1600, 1000)
review_layers.ensure(viewer, opacity=0.6, contour=False, on_paint=lambda *a: None)
app = QApplication.instance()
if os.environ.get("MS") == "1":
    sh = data[0][0][0].shape[:2]
    for name, cm in (("image", None), ("compare", "green"), ("probability", "magma"), ("uncertainty", "cyan")):
        viewer.layers.remove(name)
        lv0 = [np.zeros((sh[0] >> i, sh[1] >> i) + ((3,) if name == "image" else ()), np.uint8 if name == "image" else np.float32) for i in range(3)]
        kw = dict(rgb=True) if name == "image" else dict(colormap=cm, blending="additive", contrast_limits=(0, 1), opacity=0.6)
        viewer.add_image(lv0, name=name, multiscale=True, visible=False, **kw)
    review_layers.order(viewer)
canvas = viewer.window._qt_viewer.canvas
draws = []
def _draw_start(ev): draws.append(time.perf_counter())
canvas._scene_canvas.events.draw.connect(_draw_start, position="first")
def _draw_end(ev): draws.append(time.perf_counter())
canvas._scene_canvas.events.draw.connect(_draw_end, position="last")

def pump(t=0.4):
    end = time.perf_counter() + t
    while time.perf_counter() < end:
        app.processEvents(); time.sleep(0.005)

MS = os.environ.get("MS") == "1"
def levels(a):
    out = [a]
    while max(out[-1].shape[:2]) > 1024:
        out.append(out[-1][::2, ::2])
    return out

def step(k, prof=None):
    img, prob, unc, other, mask = data[k % len(data)]
    if isinstance(img, list): shp = img[0].shape[:2]
    else: shp = img.shape[:2]
    t = {}
    if prof: prof.enable()
    t0 = time.perf_counter()
    def S(name, *a, **kw):
        s = time.perf_counter()
        if name == "mask":
            review_layers.set_mask(viewer, mask, opacity=0.6, contour=False, on_paint=lambda *a: None)
        elif isinstance(img, list):
            d, kind = a[0], a[1]
            layer = viewer.layers[name]
            vis = kw.get("visible", True)
            if d is None:
                d = [np.broadcast_to(np.float32(0), l.shape[:2]) for l in img]; vis = False
            if not vis: layer.visible = False
            layer.data = d
            if "contrast_limits" in kw: layer.contrast_limits = kw["contrast_limits"]
            layer.visible = vis
        else:
            review_layers.set_layer(viewer, name, *a, placeholder_shape=shp, **kw)
        t[name] = (time.perf_counter() - s) * 1000
    S("image", img, "image", rgb=True, colormap=None)
    S("compare", other if CMP else None, "image", colormap="green", opacity=0.6, blending="additive", visible=CMP)
    S("probability", prob, "image", colormap="magma", opacity=0.6, blending="additive", contrast_limits=(0, 1))
    S("uncertainty", unc, "image", colormap="cyan", opacity=0.6, blending="additive", contrast_limits=(0, 1), visible=UNC)
    S("mask")
    s = time.perf_counter(); viewer.reset_view(); t["reset_view"] = (time.perf_counter() - s) * 1000
    t["call"] = (time.perf_counter() - t0) * 1000
    if prof and os.environ.get("PROF") == "call": prof.disable()
    del draws[:]
    s = time.perf_counter()
    canvas._scene_canvas.native.update()
    pump(0.05)
    while len(draws) < 2 and time.perf_counter() - s < 5:
        app.processEvents(); time.sleep(0.001)
    if prof: prof.disable()
    t["draw"] = (draws[1] - draws[0]) * 1000 if len(draws) >= 2 else None
    return t

CMP = os.environ.get("CMP") == "1"
UNC = os.environ.get("UNC") == "1"
pump(1.0)
rows = []
for k in range(8):
    prof = cProfile.Profile() if k == 6 else None
    rows.append(step(k, prof))
    pump(0.4)
    if prof:
        sio = io.StringIO(); pstats.Stats(prof, stream=sio).sort_stats("cumulative").print_stats(45); print(sio.getvalue()[:9000])
        sio = io.StringIO(); pstats.Stats(prof, stream=sio).sort_stats("tottime").print_stats(25); print(sio.getvalue()[:6000])
for r in rows: print({k: (round(v, 1) if v is not None else None) for k, v in r.items()})
keys = rows[0].keys()
print("median", {k: round(float(np.median([r[k] for r in rows[2:] if r[k] is not None])), 1) for k in keys})
viewer.close()
