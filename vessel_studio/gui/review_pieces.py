"""Removing false positives from the mask in the Review panel (session 27): "Erase piece" and
"Remove specks".

A person correcting a vessel mask mostly erases false positives: a blob at the optic disc rim, a
lesion, noise specks, a stretch of the field-of-view border. With the brush that is slow.

- **Erase piece** is a mode: one click on the mask erases the whole piece under the cursor, its
  8-connected pixels (diagonal neighbours included: a one-pixel vessel running diagonally is one
  piece, as the fragmentation signal counts pieces, :data:`vessel_studio.measures.EIGHT`). napari's
  own Fill with label 0 would erase only the 4-connected part (``skimage.segmentation.flood(...,
  connectivity=1)`` in napari 0.9.2's ``Labels.fill``), leaving the diagonal stubs of a thin
  vessel behind, and a drag with it fills again at every pixel it crosses (and cannot pan); so the
  mode is the mask layer in napari's pan/zoom mode with a cross cursor and a click handler on the
  viewer (:meth:`PiecesMixin._piece_click`): a click (press and release within
  :data:`CLICK_SLOP_PX`) erases, a drag pans as in pan/zoom. Clicking a vessel that joins the tree
  erases the whole connected tree (Undo restores it).
- **Remove specks** erases every piece smaller than the size in the spin box beside it
  (:func:`vessel_studio.measures.small_pieces`), by default :data:`~vessel_studio.measures.MIN_OBJECT`
  (10 px, what the fragmentation signal ignores) scaled by area to the image
  (:func:`vessel_studio.measures.speck_size`).

Both edit through the layer's ``data_setitem`` (napari's undoable edit: one history step each, so
the panel's Undo restores a piece or all the specks at once) inside ``block_history``, so that the
layer's paint event, which refreshes the "unsaved edits" line (the panel's ``_edited``), comes after
the array is written (``data_setitem`` alone emits it before); the autosave timer writes the draft
as for any edit.
"""

from __future__ import annotations

import numpy as np

from vessel_studio import measures
from vessel_studio.gui import review_layers

#: the Review panel's ``_mode`` name of "Erase piece"
PIECE = "piece"
#: a press and release at most this far apart (screen pixels) is a click (erases); farther, a drag (pans)
CLICK_SLOP_PX = 4.0

PIECE_TIP = ("Erase piece: click a piece of the mask to erase it whole, everything connected to the clicked pixel "
             "(diagonal neighbours included); dragging pans. Careful: clicking a vessel that joins the tree erases the "
             "whole connected tree; Undo restores it. Click the button again, or Paint / Erase / Fill, to leave the mode.")
SPECKS_TIP = ("Erase every piece of the mask smaller than the size beside it, in one step (Undo restores them all). "
              "The default is 10 px at DRIVE's scale (what the label-free fragmentation signal leaves out) scaled by "
              "area to the image: 11 px at 565 px a side, 32 at CHASE_DB1's 960, ~520 at 3900. On the bundled model's "
              "DRIVE test masks the pieces under 10 px were 70 % of the pieces but 0.6 % of the mask, and about half of "
              "their pixels were on labelled vessels (broken-off thin vessels): look before you save.")
SIZE_TIP = ("Pieces smaller than this many pixels are specks. Set from the image's size when an image of another size "
            "is shown.")


def _nonzero_in_box(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D bool array, searched only inside the box around its True pixels: a blob
    of a 15-megapixel mask in a few ms instead of a whole-image scan (~30 ms, twice that on a loaded
    machine)."""
    rows = np.flatnonzero(a.any(axis=1))
    if rows.size == 0:
        return np.nonzero(a)
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero(a[r0:r1].any(axis=0))
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    rr, cc = np.nonzero(a[r0:r1, c0:c1])
    return rr + r0, cc + c0


class PiecesMixin:
    """Erase piece and Remove specks, as a mixin of :class:`~.review_panel.ReviewPanel`.

    The panel provides ``studio`` (its ``status`` signal), ``viewer``, ``image_id``, ``mask_layer``, the
    ``btn_piece`` (checkable) button and the ``speck_size`` spin box, and ``_edited``; it calls
    :meth:`_hook_mask` after the mask layer may have been made, :meth:`_speck_default` when an image is
    shown and :meth:`_unhook_pieces` when it is closed.
    """

    _piece_on = False
    _hooked_mask = None
    _speck_shape = None

    # --- the mode --------------------------------------------------------------------------------

    def _start_piece(self, layer) -> None:
        """The mask layer is in pan/zoom mode (``_mode``): a click erases a piece, a drag still pans."""
        layer.cursor = "cross"
        self._piece_on = True
        self.btn_piece.setChecked(True)

    def _stop_piece(self, *, restore: bool = False) -> None:
        """Leave the mode; ``restore``: the layer stays in napari's pan/zoom, with its cursor."""
        self._piece_on = False
        self.btn_piece.setChecked(False)
        layer = self.mask_layer
        if restore and layer is not None and layer.mode == "pan_zoom":
            layer.cursor = "standard"

    def _piece_toggled(self, checked: bool) -> None:
        if checked:
            self._mode(PIECE)
        else:
            self._stop_piece(restore=True)

    def _mask_mode_changed(self, _event=None) -> None:
        """The mask layer's mode changed (napari's own controls or keys, or ``_mode``): the mode ends
        unless the layer is still in pan/zoom."""
        layer = self.mask_layer
        if self._piece_on and (layer is None or layer.mode != "pan_zoom"):
            self._stop_piece()

    def _hook_mask(self) -> None:
        """Follow the mask layer's mode, and clicks on the viewer (once per layer / panel)."""
        layer = self.mask_layer
        if self._piece_click not in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.append(self._piece_click)
        if layer is not None:  # the brush and the other tools act in the mask's own grid cell only
            review_layers.keep_strokes_in_own_cell(self.viewer, layer)
            review_layers.on_stroke_outside(layer, self._stroke_outside)
        if layer is None or layer is self._hooked_mask:
            return
        self._unhook_mask_events()
        layer.events.mode.connect(self._mask_mode_changed)
        self._hooked_mask = layer
        self._mask_mode_changed()  # a new layer starts in napari's own pan/zoom

    def _unhook_mask_events(self) -> None:
        old = self._hooked_mask
        self._hooked_mask = None
        if old is None:
            return
        try:
            old.events.mode.disconnect(self._mask_mode_changed)
        except (RuntimeError, ValueError, TypeError):
            pass

    def _unhook_pieces(self) -> None:
        """A closed panel: no more clicks or mode events reach it (the layers stay for the next one)."""
        self._unhook_mask_events()
        try:
            self.viewer.mouse_drag_callbacks.remove(self._piece_click)
        except (ValueError, RuntimeError, AttributeError):
            pass
        layer = self.mask_layer
        if layer is not None:
            review_layers.on_stroke_outside(layer, None)
        if self._piece_on and layer is not None and layer.mode == "pan_zoom":
            layer.cursor = "standard"
        self._piece_on = False

    def _stroke_outside(self) -> None:
        """A press of the mask's tools (or of Erase piece) over another cell of "Side by side (grid)": nothing
        is edited (``review_layers.keep_strokes_in_own_cell``); say where they act."""
        self.studio.status.emit("Side by side: the mask is edited in its own cell only (the one showing the blue "
                                "mask); the stroke over another cell changed nothing")

    def _piece_click(self, viewer, event):
        """A press on the canvas (napari calls the viewer's callbacks before the active layer's): in the
        mode, a left click on the mask layer erases the piece where it was pressed, when it is released
        within :data:`CLICK_SLOP_PX` of the press (a drag pans the view, as in pan/zoom); with the mask
        hidden or another layer selected, the status line says why nothing was erased."""
        layer = self.mask_layer
        if (not self._piece_on or event.type != "mouse_press" or getattr(event, "button", 1) != 1
                or layer is None or self.image_id is None or layer.mode != "pan_zoom"):
            return
        outside = not review_layers.in_own_cell(viewer, layer, event)  # "Side by side": over another cell
        press = np.asarray(event.pos, float)
        point = np.asarray(layer.world_to_data(event.position))[-2:]
        image_id = self.image_id
        moved = False
        yield
        while event.type == "mouse_move":
            moved = moved or float(np.hypot(*(np.asarray(event.pos, float) - press))) > CLICK_SLOP_PX
            yield
        if (event.type != "mouse_release" or moved or not self._piece_on or self.image_id != image_id
                or self.mask_layer is not layer):
            return
        # a click that erases nothing says why (session 27 QA: it was silent, the button still pressed)
        if outside:  # it erased the piece under the cursor in that cell, out of sight in the mask's (session 36)
            self._stroke_outside()
        elif not layer.visible:
            self.studio.status.emit("Erase piece: the mask is hidden; show it to erase its pieces")
        elif viewer.layers.selection.active is not layer:
            self.studio.status.emit("Erase piece: another layer is selected; select the mask layer (or click "
                                    "Erase piece again) to erase its pieces")
        else:
            self.erase_piece(point)

    # --- the edits -------------------------------------------------------------------------------

    def erase_piece(self, point) -> int:
        """Erase the 8-connected piece of the mask under ``point`` (row, col in the mask's pixels) as one
        undoable step; the number of pixels erased (0: no mask there)."""
        layer = self.mask_layer
        if layer is None or self.image_id is None:
            return 0
        piece = measures.piece_at(layer.data, point)
        if piece is None:
            self.studio.status.emit("Erase piece: no mask under the cursor")
            return 0
        where = _nonzero_in_box(piece)
        self._erase(layer, where)
        n = int(where[0].size)
        self.studio.status.emit(f"erased a piece of {n} px (Undo restores it)")
        return n

    def remove_specks(self) -> tuple[int, int]:
        """Erase every piece of the mask smaller than the spin box's size, as one undoable step:
        ``(pieces, pixels)`` erased; the status line says how many."""
        layer = self.mask_layer
        if layer is None or self.image_id is None:
            return 0, 0
        if not layer.visible:  # an edit nobody sees (as Erase piece refuses a click on a hidden mask)
            self.studio.status.emit("Remove specks: the mask is hidden; show it to remove its specks")
            return 0, 0
        size = int(self.speck_size.value())
        small, n, _ = measures.small_pieces(layer.data, size)
        where = np.nonzero(small)
        px = int(where[0].size)
        if n:
            self._erase(layer, where)
            self.studio.status.emit(f"removed {n} piece(s) under {size} px, {px} px in all (Undo restores them)")
        else:
            self.studio.status.emit(f"no piece of the mask is under {size} px")
        return n, px

    @staticmethod
    def _erase(layer, where) -> None:
        """Set the pixels ``where`` (``np.nonzero``'s tuple) of the mask layer to 0 as one undoable step.
        Inside ``block_history`` the layer's paint event (the panel's ``_edited``: the "unsaved edits"
        line) comes when the step is committed, after the array is written; ``data_setitem`` alone
        emits it before, when the mask still looks unedited."""
        with layer.block_history():
            layer.data_setitem(where, 0)

    def _speck_default(self, shape) -> None:
        """The speck size for an image of ``shape`` (:func:`measures.speck_size`), set when the size
        changes (a size chosen by hand stays while the images keep their size)."""
        shape = tuple(shape[:2])
        if shape != self._speck_shape:
            self._speck_shape = shape
            self.speck_size.setValue(measures.speck_size(shape))
