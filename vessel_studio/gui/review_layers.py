"""The Review panel's napari layers: named, reused between images, kept in one order.

``image``, ``compare`` (source-only or an earlier round, in green), ``probability``, ``uncertainty`` and
``mask`` (a Labels layer: napari's brush, eraser, fill and undo/redo edit the correction).
A layer is updated in place where it can be: adding or removing one costs the GUI thread far more.
The panel makes all five when it is built (:func:`ensure`: hidden, 1×1 data) and only hides them
again when no image is shown (:func:`clear`), so showing the first image adds no layer: adding
the five took ~0.6 s of GUI-thread time when the first image was shown (opening a project, the
end of the first "Adding images"; ``benchmarks/results/gui/README.md``, "First image").
Call these on the GUI thread only.
"""

from __future__ import annotations

import numpy as np

#: the Review panel's layers, bottom to top
NAMES = ("image", "compare", "probability", "uncertainty", "mask")

#: the metadata key of the layers made here: a layer of one of :data:`NAMES` without it is not the panel's (a person's
#: own layer in their napari, before the panel was opened from the Plugins menu: :func:`ensure` renames it)
OWN_KEY = "vessel_studio_layer"

#: the maps are drawn with additive blending: a colormap must be black at 0, else it tints the whole
#: image (viridis, dark purple at 0, turned every sure pixel and the black outside the FOV purple).
#: The uncertainty's hue is apart from the probability's magma and from fundus reds; the compared map
#: is green, so that over the shown map (magma) what only one of them draws keeps its own colour
#: (both in magma, the two summed into one map in which neither could be told apart)
PROBABILITY_COLORMAP = "magma"
#: the mask's colour (label 1): napari's default label 1 is a dark brownish red (0.47, 0.15, 0.02),
#: the colour of a vessel in a fundus image, under which the mask was all but invisible without the
#: probability map beneath it; blue stands apart from fundus reds, gray OCT-A and the maps. Pure blue,
#: not dodgerblue (0.12, 0.56, 1.0): over a gray OCT-A image dodgerblue and the cyan uncertainty map
#: were close (CIEDE2000 18 between a masked vessel and an undecided edge beside it, all overlays on,
#: on OCTA-500 10451 with its label blurred into a stand-in map; 24 on DRIVE 01), blue is 34 and 42 apart, and farther from the green compared
#: map too (59 / 77, from 45 / 48). The uncertainty stays cyan: over the magma probability map it is
#: the most visible black-based hue (magenta or purple sink into magma's middle, yellow or orange into
#: its top and fundus reds). The price: blue is darker on black (a grid cell, OCT-A's foveal zone);
#: lighter blues (royalblue, #5050ff) lose the distance from cyan faster than they gain brightness.
MASK_COLOR = "blue"
COMPARE_COLORMAP = "green"
UNCERTAINTY_COLORMAP = "cyan"


def legend_html() -> str:
    """The Review panel's legend: each overlay with a swatch of its colour (a map's at 1, where it is
    brightest), from the colours the layers are drawn in."""
    from napari.utils.colormaps import ensure_colormap
    from napari.utils.colormaps.standardize_color import transform_color

    def swatch(rgb) -> str:
        r, g, b = (int(round(255 * float(v))) for v in rgb[:3])
        return f'<span style="color:#{r:02x}{g:02x}{b:02x}">&#9632;</span>'

    def top(name):
        return ensure_colormap(name).map(np.array([1.0]))[0]

    items = (("mask", transform_color(MASK_COLOR)[0]), ("prediction (magma)", top(PROBABILITY_COLORMAP)),
             ("compared", top(COMPARE_COLORMAP)), ("uncertainty", top(UNCERTAINTY_COLORMAP)))
    return " &middot; ".join(f"{swatch(c)} {name}" for name, c in items)


#: the mask layer's metadata key while it is hidden because no image is shown (set_mask shows it
#: again then; a mask the user hid stays hidden)
EMPTY_KEY = "vessel_studio_empty"
#: the empty data of a layer while no image is shown
EMPTY = {"image": (1, 1, 3), "compare": (1, 1), "probability": (1, 1), "uncertainty": (1, 1), "mask": (1, 1)}


def mask_colormap():
    """The mask layer's colours: background (0) transparent, every other label in :data:`MASK_COLOR`. The
    panel paints label 1, but napari's own keys change the label painted (``=`` / ``-``, ``M``): a stroke of
    label 2 was transparent, invisible on screen yet saved as vessel (a saved mask is ``data > 0``; session 34
    QA), so any label the layer holds is drawn as the vessel it is saved as."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: MASK_COLOR, 0: "transparent", 1: MASK_COLOR})


def ensure(viewer, *, opacity: float, contour: bool, on_paint) -> list[tuple[str, str]]:
    """Make the layers that are missing, hidden and empty, in :data:`NAMES` order; connect
    ``on_paint`` to the mask layer's edits (:func:`_follow_edits`; an existing one's too: a Review panel opened
    again finds the layers of the closed one). ``image`` is made RGB (fundus);
    :func:`prepare_image` makes it gray for an OCT-A project before its first image, and an image
    of the other kind replaces that one layer (as stepping between RGB and gray images does).

    A layer of one of these names that the panel did not make (:data:`OWN_KEY`) is the person's: it is renamed as
    napari renames a layer whose name is taken ("image [1]") and left as it was otherwise. Session 49 QA, the panel
    opened from napari's Plugins menu in a viewer where ``image = imread(...); viewer.add_image(image)`` and
    ``viewer.add_labels(mask)`` had made layers named "image" and "mask" (napari names a layer after the variable):
    the panel took them for its own and emptied them, the person's data gone from the viewer. Returns ``[(name, new
    name)]`` of the layers renamed."""
    from napari.utils.naming import inc_name_count

    layers = viewer.layers
    renamed = []
    for name in NAMES:
        if name in layers and not layers[name].metadata.get(OWN_KEY):
            layer = layers[name]
            layer.name = inc_name_count(name)  # napari's list makes it unique
            renamed.append((name, layer.name))
    maps = {"compare": dict(colormap=COMPARE_COLORMAP, opacity=opacity),
            "probability": dict(colormap=PROBABILITY_COLORMAP, opacity=opacity),
            "uncertainty": dict(colormap=UNCERTAINTY_COLORMAP, opacity=opacity)}
    for name in NAMES:
        if name in layers:
            continue
        if name == "image":
            viewer.add_image(np.zeros(EMPTY[name], np.uint8), name=name, rgb=True, visible=False,
                             metadata={OWN_KEY: True})
        elif name == "mask":
            _add_mask(viewer, np.zeros(EMPTY[name], np.uint8), opacity=opacity, contour=contour, visible=False,
                      metadata={EMPTY_KEY: True})
        else:
            viewer.add_image(np.zeros(EMPTY[name], np.float32), name=name, visible=False, blending="additive",
                             contrast_limits=(0, 1), metadata={OWN_KEY: True}, **maps[name])
    _follow_edits(layers["mask"], on_paint)
    for name in ("compare", "probability", "uncertainty"):  # data left out while hidden, put in when shown by napari's eye
        layers[name].events.visible.disconnect(_on_visible)
        layers[name].events.visible.connect(_on_visible)
    order(viewer)
    return renamed


def _follow_edits(layer, on_paint) -> None:
    """``on_paint`` on the mask layer's paint event and on its ``set_data``, which napari's own Undo / Redo
    (Ctrl+Z / Ctrl+Shift+Z on the layer) emit without a paint event (and a new mask shown emits too)."""
    layer.events.paint.connect(on_paint)
    layer.events.set_data.connect(on_paint)


def prepare_image(viewer, *, rgb: bool) -> None:
    """No image shown: make the hidden ``image`` layer RGB or not (an RGB layer cannot show a gray
    image), so that the first image of a project (gray for OCT-A) replaces no layer when it is shown
    at the end of a job; a project of the other kind pays that replacement when it is opened or
    made, not then."""
    layers = viewer.layers
    if "image" not in layers or layers["image"].rgb == rgb:
        return
    layers.remove("image")
    shape = EMPTY["image"] if rgb else (1, 1)
    viewer.add_image(np.zeros(shape, np.uint8), name="image", rgb=rgb, visible=False, metadata={OWN_KEY: True},
                     **({} if rgb else {"colormap": "gray"}))
    order(viewer)


def clear(viewer) -> None:
    """No image shown: hide the layers and drop their data (1×1 zeros; the mask's undo history
    too), keeping the layers themselves for the next image."""
    layers = viewer.layers
    for name in NAMES:
        if name not in layers:
            continue
        layer = layers[name]
        rgb = name == "image" and layer.rgb
        empty = np.zeros(EMPTY[name] if rgb else (1, 1), np.uint8 if name in ("image", "mask") else np.float32)
        layer.metadata.pop(PENDING_KEY, None)  # the next image's is set, not a data left out for this one
        if _is_cleared(layer, empty):
            # as this would leave it (the panel's build, a project opened in a window showing none): setting its data
            # again cost ~10 ms a layer of napari's events, twice per window build
            continue
        layer.visible = False
        layer.data = empty
        layer.metadata.pop(PLACEHOLDER_KEY, None)
        if name == "mask":
            layer.metadata[EMPTY_KEY] = True
            layer._undo_history.clear()
            layer._redo_history.clear()


def _is_cleared(layer, empty: np.ndarray) -> bool:
    """Whether ``layer`` is as :func:`clear` leaves it: hidden, holding ``empty`` (the mask also marked empty, with
    no undo or redo history)."""
    data = layer.data
    if layer.visible or not isinstance(data, np.ndarray) or data.shape != empty.shape or data.dtype != empty.dtype:
        return False
    if data.any():
        return False
    if layer.metadata.get(EMPTY_KEY) is not True and hasattr(layer, "_undo_history"):  # the mask (a Labels layer)
        return False
    return not (getattr(layer, "_undo_history", None) or getattr(layer, "_redo_history", None))


#: an image layer's metadata key: the placeholder array :func:`set_layer` left in it (hidden zeros of an image's shape),
#: so that the next placeholder of that shape is not set again (~4 ms of napari's events a layer at 304 px)
PLACEHOLDER_KEY = "vessel_studio_placeholder"
#: an image layer's metadata key: the data :func:`set_layer` was asked to show in the layer while it was hidden and
#: left out (``defer``), put in when the layer is made visible (:func:`show`, or napari's own eye in the layer list)
PENDING_KEY = "vessel_studio_pending"


def set_layer(viewer, name: str, data, kind: str, *, placeholder_shape, visible: bool = True, defer: bool = False,
              **kw):
    """Show ``data`` in the image layer ``name`` (``kw``: napari's ``add_image`` options); ``None``
    leaves a hidden placeholder of ``placeholder_shape`` (nothing when that is ``None`` too).

    What would change nothing is not done, each costing the GUI thread napari's events (session 38: ~4-11 ms a layer
    at 304 px, ``benchmarks/results/gui/README.md``): the array the layer already holds (the same object) is not set
    again, nor a placeholder where the hidden layer holds one of that shape, nor contrast limits equal to the
    layer's. ``defer`` (a hidden layer with fixed ``contrast_limits``, the uncertainty): when the layer already holds
    data of this shape and dtype, ``data`` is kept
    aside (:data:`PENDING_KEY`) and put in when the layer is made visible (:func:`show`, or napari's eye: the
    handler :func:`ensure` connects), not now."""
    layers = viewer.layers
    placeholder = data is None
    if placeholder:
        # keep a hidden placeholder: adding a layer later (when a job finishes) costs the GUI
        # thread far more than updating one
        if placeholder_shape is None:
            return
        if name in layers and _holds_placeholder(layers[name], placeholder_shape):
            layers[name].metadata.pop(PENDING_KEY, None)
            return
        data, visible = np.zeros(placeholder_shape, np.float32), False
    if name in layers and (layers[name].rgb if kind == "image" else False) == kw.get("rgb", False):
        layer = layers[name]
        if not visible and layer.visible:  # a hidden layer is not sliced or drawn when its data changes
            layer.visible = False
        before = np.asarray(layer.data).dtype
        layer.metadata.pop(PENDING_KEY, None)
        same = layer.data is data  # the map on screen shown again (a correction changed elsewhere): not set again
        if not same and defer and not visible and "contrast_limits" in kw and _same_shape(layer.data, data):
            layer.metadata[PENDING_KEY] = data  # filled in when shown (_fill_pending); its limits are set below
            same = True
        if not same:
            layer.data = data
            _extent_follows(layer)
            if placeholder:
                layer.metadata[PLACEHOLDER_KEY] = data
            else:
                layer.metadata.pop(PLACEHOLDER_KEY, None)
        if "contrast_limits" in kw:
            if tuple(layer.contrast_limits) != tuple(kw["contrast_limits"]):  # the setter redraws the thumbnail
                layer.contrast_limits = kw["contrast_limits"]
        elif not same and (not layer.rgb or before != np.uint8 or np.asarray(data).dtype != np.uint8):
            # another image may have another dtype / range (8- and 16-bit scans); an RGB layer kept the
            # 0-255 of its 8-bit placeholder for a camera's 16-bit RGB TIFF, drawn all white
            layer.reset_contrast_limits_range()
            layer.reset_contrast_limits()
        if visible and not layer.visible:  # napari's setter slices a visible layer again, each time it is set
            layer.visible = True
        return
    if name in layers:
        layers.remove(name)
    kw = {k: v for k, v in kw.items() if v is not None}
    layer = viewer.add_image(data, name=name, visible=visible, **kw)
    layer.metadata[OWN_KEY] = True
    if placeholder:
        layer.metadata[PLACEHOLDER_KEY] = data
    order(viewer)
    return layer


def _holds_placeholder(layer, shape) -> bool:
    """Whether the hidden ``layer`` holds the placeholder :func:`set_layer` left in it, of ``shape``."""
    data = layer.data
    return (not layer.visible and layer.metadata.get(PLACEHOLDER_KEY) is data and isinstance(data, np.ndarray)
            and data.shape == tuple(shape))


def _same_shape(held, data) -> bool:
    return (isinstance(held, np.ndarray) and isinstance(data, np.ndarray) and held.shape == data.shape
            and held.dtype == data.dtype)


def pending(layer):
    """The data :func:`set_layer` left out of the hidden ``layer`` (``defer``), or None."""
    return layer.metadata.get(PENDING_KEY)


def show(viewer, name: str, on: bool) -> None:
    """Make the layer ``name`` visible or not; made visible, it gets the data left out of it while hidden first (not
    sliced and drawn twice)."""
    if name not in viewer.layers:
        return
    layer = viewer.layers[name]
    if on:
        _fill_pending(layer)
    layer.visible = bool(on)


def _fill_pending(layer) -> None:
    data = layer.metadata.pop(PENDING_KEY, None)
    if data is not None:
        layer.data = data
        layer.metadata.pop(PLACEHOLDER_KEY, None)


def _on_visible(event) -> None:
    """A layer made visible by napari's own eye in the layer list: the data left out of it while hidden is put in."""
    layer = event.source
    if layer.visible and PENDING_KEY in layer.metadata:
        _fill_pending(layer)


def set_mask(viewer, mask: np.ndarray, *, opacity: float, contour: bool, on_paint,
             data: np.ndarray | None = None) -> None:
    """Show ``mask`` in the ``mask`` Labels layer with an empty undo history; a new layer gets
    ``opacity``, ``contour`` and ``on_paint`` connected to its edits (:func:`_follow_edits`). ``data``: ``mask``
    as the layer holds it (uint8 0 / 1), made in a worker and held by nothing else (the layer's edits change it in
    place), else made here."""
    if data is None or data.dtype != np.uint8 or data.shape != np.shape(mask):
        data = (np.asarray(mask) > 0).astype(np.uint8)
    brush = max(3, int(round(min(data.shape) / 150)))  # a new layer, or one shown at another size
    layers = viewer.layers
    if "mask" in layers and layers["mask"].data.ndim == data.ndim:
        # reused even for another image size: removing and adding a Labels layer costs the GUI
        # thread ~0.25 s (measured stepping between DRIVE, CHASE_DB1 and STARE images)
        layer = layers["mask"]
        if layer.data.shape != data.shape:
            layer.brush_size = brush
        layer.data = data
        _extent_follows(layer)
        layer._undo_history.clear()
        layer._redo_history.clear()
        if layer.metadata.pop(EMPTY_KEY, False):  # hidden by clear (a user's hiding is kept)
            layer.visible = True
    else:
        if "mask" in layers:
            layers.remove("mask")
        layer = _add_mask(viewer, data, opacity=opacity, contour=contour)
        layer.brush_size = brush
        _follow_edits(layer, on_paint)
    layer.selected_label = 1
    order(viewer)


def _extent_follows(layer) -> None:
    """Make a hidden layer's extent that of the data just set. napari refreshes only a visible layer when its data is
    set: a hidden one (the compared map with "none", the uncertainty map unticked, a map the image has none of) kept
    the extent of the image it was last shown with, and the viewer's extent, the union of its layers', with it. Each
    step to an image of another size was then fitted to both images' frame (QA, session 38: an OCT-A project's
    200x250 scan after its 304x304 ones was drawn off-centre in the corner of a 304x304 frame; a larger image was
    cut off). A visible layer's extent is already its data's."""
    if layer.visible:
        return
    clear = getattr(layer, "_clear_extent", None)  # napari's own refresh does this for a visible layer
    if clear is not None:
        clear()


def _add_mask(viewer, data: np.ndarray, *, opacity: float, contour: bool, **kw):
    """A new ``mask`` Labels layer in the mask's colours (:func:`mask_colormap`), drawn as a contour
    or filled."""
    layer = viewer.add_labels(data, name="mask", opacity=opacity, **kw)
    layer.metadata[OWN_KEY] = True
    layer.colormap = mask_colormap()
    layer.contour = 2 if contour else 0
    keep_strokes_in_own_cell(viewer, layer)
    return layer


def grid_of(viewer):
    """The viewer's grid model (napari 0.9 moved it to ``viewer.canvas.grid``; ``viewer.grid`` warns)."""
    canvas = getattr(viewer, "canvas", None)
    return getattr(canvas, "grid", None) or viewer.grid


def camera_of(viewer):
    """The viewer's camera (napari 0.9 moved it to ``viewer.scene.camera``; ``viewer.camera`` warns)."""
    scene = getattr(viewer, "scene", None)
    return getattr(scene, "camera", None) or viewer.camera


def in_own_cell(viewer, layer, event) -> bool:
    """Whether a mouse ``event`` (napari's, with the grid cell it was pressed in: ``viewbox``) is over ``layer``'s
    own cell of "Side by side (grid)"; always True with the grid off."""
    grid = grid_of(viewer)
    cell = getattr(event, "viewbox", None)
    if not grid.enabled or cell is None or layer not in viewer.layers:
        return True
    return tuple(cell) == tuple(grid.position(viewer.layers.index(layer), viewer.layers))


class _OwnCellCallbacks(list):
    """A layer's ``mouse_drag_callbacks`` (or ``mouse_double_click_callbacks``) of which napari runs none for a press
    (a double-click) outside the layer's grid cell.

    napari runs a press's callbacks by iterating this list (``napari.utils.interactions.mouse_press_callbacks``, the
    only place that iterates it; ``mouse_double_click_callbacks`` for a double-click), just after setting
    ``viewer.cursor.viewbox`` to the cell pressed in; a drag's moves and its release go to the generators the press
    started. Its other uses (``append``, ``remove``, ``in``: napari's mode setter, the brush-stroke and polygon
    overlays adding theirs) are a list's."""

    def __init__(self, items, viewer, layer):
        import weakref

        super().__init__(items)
        self._viewer, self._layer = weakref.ref(viewer), weakref.ref(layer)

    def __iter__(self):
        viewer, layer = self._viewer(), self._layer()
        if viewer is None or layer is None or in_own_cell(viewer, layer, viewer.cursor):
            return super().__iter__()
        if layer.mode != "pan_zoom":  # a tool's stroke, not a drag that pans (the camera's, run anyway)
            told = getattr(layer, "_stroke_outside", None)
            told = told() if told is not None else None
            if told is not None:
                told()
        return iter(())


def keep_strokes_in_own_cell(viewer, layer) -> None:
    """Make every press-and-drag action of the mask layer (napari's brush, eraser, fill, its right-button
    encircle-and-fill stroke, polygon, pick) act only on a press in the layer's own grid cell. napari hands a press
    in any cell of the grid to the active layer, at the world position under the cursor in that cell: with "Side by
    side" on, a stroke over the image's cell painted the mask there, out of sight in the mask's cell (session 36).
    A tool's press elsewhere calls the layer's ``_stroke_outside`` (a weak reference set by
    :func:`on_stroke_outside`) and runs nothing. So does a double-click there, which finishes napari's polygon and
    paints it (session 37: a polygon whose vertices were clicked in the mask's cell was finished, and painted, by a
    double-click over another cell). Done once per layer (:class:`_OwnCellCallbacks`)."""
    if not isinstance(layer.mouse_drag_callbacks, _OwnCellCallbacks):
        layer.mouse_drag_callbacks = _OwnCellCallbacks(layer.mouse_drag_callbacks, viewer, layer)
    if not isinstance(layer.mouse_double_click_callbacks, _OwnCellCallbacks):
        layer.mouse_double_click_callbacks = _OwnCellCallbacks(layer.mouse_double_click_callbacks, viewer, layer)


def on_stroke_outside(layer, method) -> None:
    """Call the bound ``method`` (weakly referenced: a closed panel is not kept) when a press of the mask layer's
    tools is outside its grid cell (:func:`keep_strokes_in_own_cell`)."""
    import weakref

    layer._stroke_outside = weakref.WeakMethod(method) if method is not None else None


def order(viewer) -> None:
    """Put the layers in :data:`NAMES` order, one after the other from where the lowest of them is, and make the mask
    the active layer. In the Vessel Studio window they are the bottom of the list (other layers, opened later, go over
    them); the panel opened from napari's Plugins menu in a viewer holding the person's layers adds its own over those
    (session 49 QA: they were moved under them, and the person's image drew over the Review panel's image and mask)."""
    layers = viewer.layers
    wanted = [n for n in NAMES if n in layers]
    start = min((layers.index(n) for n in wanted), default=0)
    for i, name in enumerate(wanted, start):
        j = layers.index(name)  # at i or above it: the ones before it are in place, none of them is below start
        if j != i:
            layers.move(j, i)
    if "mask" in layers:
        layers.selection.active = layers["mask"]
