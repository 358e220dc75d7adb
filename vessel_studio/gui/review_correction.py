"""Correcting a mask in the Review panel: edit modes, undo/redo, save, drafts, autosave, leaving.

The ``mask`` layer holds the correction being edited; ``_baseline`` is what it was when shown
(the saved correction, the thresholded prediction, or for a restored draft the saved state under
it), so the panel is *dirty* when the layer differs from it. Save writes the corrected mask to the
project atomically; unsaved edits are autosaved to ``PROJECT/gui/drafts`` (only when they changed)
and the user is asked before they would be dropped (another image, another project, closing).
"""

from __future__ import annotations

import hashlib

import numpy as np

from vessel_studio.gui import dialogs, tasks


def _digest(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a > 0).tobytes()).hexdigest()


def confirm_unsaved_drafts(parent, project, title: str, consequence: str) -> bool:
    """Images with autosaved edits that were never saved (drafts left by a crash or a closed Review
    panel, shown again only when their image is opened): name them, say ``consequence`` and ask
    whether to go on. True when there are none. Ask after the leave hooks (the image on screen)."""
    names = [project.image(i).name for i in tasks.draft_ids(project)]
    if not names:
        return True
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return dialogs.confirm(
        parent, title,
        f"{len(names)} image(s) have autosaved edits that were never saved: {shown}. {consequence} To include "
        "the edits, open each image in Review and save its correction. Go on anyway?")


DISCARD_TIP = ("Remove this image's saved correction (asks first): it goes back to its prediction and the next "
               "adaptation round no longer trains on it")
DISCARD_BUSY_TIP = ("An adaptation is running: its round in progress already trains on this saved mask, so discarding "
                    "it now would only reach its later rounds. Discard it once the adaptation has finished (or "
                    "cancel it), then run the adaptation again.")


def adapting_note(adapting: bool) -> str:
    """What a mask saved while an adaptation runs does there (appended to the status line)."""
    return ("; the running adaptation trusts it from its next round (the round in progress read the saved masks "
            "when it started)") if adapting else ""


class CorrectionMixin:
    """The Review panel's correction editing, as a mixin of :class:`~.review_panel.ReviewPanel`.

    The panel provides ``studio`` (its ``runner``), ``viewer``, ``image_id``, ``image``, ``prob``, the ``threshold``
    spin box, the ``edit_state`` label and the ``btn_discard`` button, the attributes ``_baseline``, ``_mask_origin``,
    ``_draft_digest`` and ``_autosave_failed``, and the methods ``_set_mask``, ``_reload_maps``
    and ``_measure``.
    """

    @property
    def mask_layer(self):
        return self.viewer.layers["mask"] if "mask" in self.viewer.layers else None

    @property
    def dirty(self) -> bool:
        layer = self.mask_layer
        if layer is None or self._baseline is None or self.image_id is None:
            return False
        return not np.array_equal(layer.data > 0, self._baseline)

    def _mode(self, mode: str) -> None:
        layer = self.mask_layer
        if layer is not None:
            layer.selected_label = 1
            layer.mode = mode
            self.viewer.layers.selection.active = layer

    def undo(self) -> None:
        if self.mask_layer is not None:
            self.mask_layer.undo()
            self._edited()

    def redo(self) -> None:
        if self.mask_layer is not None:
            self.mask_layer.redo()
            self._edited()

    def _edited(self, *_args) -> None:
        self._update_edit_state()

    def _adapting(self) -> bool:
        """An adaptation runs in this window: each of its rounds trains on the saved masks it read when
        the round started (``adaptation.job.adapt``), so a change to them reaches its later rounds only."""
        runner = self.studio.runner
        return runner.running and runner.name == "Adaptation"

    def _update_edit_state(self) -> None:
        adapting = self._adapting()
        # Discard is the undo of a trusted label: a round already training on it would keep it (half
        # applied); it waits for the adaptation, as Run and Roll back wait for a running job
        self.btn_discard.setToolTip(DISCARD_BUSY_TIP if adapting else DISCARD_TIP)
        if self.image_id is None:
            self.edit_state.setText("")
            self.btn_discard.setEnabled(False)
            return
        proj = self.studio.project
        self.btn_discard.setEnabled(proj is not None and proj.correction_path(self.image_id).is_file()
                                    and not adapting)
        origin = {"corrected": "saved correction", "draft": "restored autosaved draft (not saved)",
                  "predicted": f"prediction (p ≥ {self.threshold.value():.2f})", "none": "empty"}.get(self._mask_origin, self._mask_origin)
        self.edit_state.setText(("● unsaved edits — " if self.dirty else "") + f"mask from: {origin}")

    # --- the starting mask ---------------------------------------------------------------------

    def _threshold_changed(self, _value: float) -> None:
        """Re-threshold the starting mask of an image shown straight from its prediction; a saved
        correction, a restored draft or unsaved edits are left as they are."""
        if self.image_id is None or self.prob is None or self._mask_origin != "predicted" or self.dirty:
            self._update_edit_state()
            return
        mask = self.prob >= self.threshold.value()
        self._baseline = mask.copy()
        self._set_mask(mask)
        self._update_edit_state()

    def _baseline_for(self, origin: str, mask: np.ndarray) -> np.ndarray:
        """What counts as "no unsaved edits": for a restored draft, the saved state under it."""
        proj = self.studio.project
        if origin != "draft":
            return np.asarray(mask) > 0
        saved = proj.correction(self.image_id)
        if saved is None:
            p = self.prob
            saved = p >= self.threshold.value() if p is not None else np.zeros(self.image.shape[:2], bool)
        return saved

    def _unreadable_mask(self, exc: Exception) -> None:
        """The image's saved correction or draft cannot be read: name the file and show no mask
        (the previous image's stayed on screen under this image's name, where Save would write it)."""
        dialogs.error(self, "Cannot show the mask", f"{exc}\n\nFix or remove that file, then open the image again.")
        self._clear()
        self.title.setText("Cannot show this image's mask (see the error message): choose another image")

    # --- saving, drafts, leaving ---------------------------------------------------------------

    def save(self) -> bool:
        proj, layer = self.studio.project, self.mask_layer
        if proj is None or layer is None or self.image_id is None:
            return False
        mask = layer.data > 0
        try:
            proj.save_correction(self.image_id, mask)
        except (ValueError, OSError) as exc:
            dialogs.error(self, "Cannot save the correction", str(exc))
            return False
        tasks.drop_draft(proj, self.image_id)
        self._draft_digest = None
        self._baseline = mask.copy()
        self._mask_origin = "corrected"
        self._update_edit_state()
        self.studio.images_changed.emit()
        self.studio.status.emit(f"saved the corrected mask of {proj.image(self.image_id).name}"
                                + adapting_note(self._adapting()))
        self._measure()
        return True

    def mark_reviewed(self) -> bool:
        """Accept the mask on screen as this image's mask: save it (with any unsaved edits) as the
        image's correction and mark the image "reviewed". The accepted mask is then what export
        writes and what the next adaptation round trusts, whatever the mask threshold or a later
        round predicts (before, only the state changed: an image accepted at threshold 0.3 exported
        p >= 0.5, and the next round's prediction replaced the accepted mask)."""
        proj, layer = self.studio.project, self.mask_layer
        if proj is None or layer is None or self.image_id is None:
            return False
        if self._mask_origin == "none" and not (layer.data > 0).any():
            dialogs.error(self, "Nothing to accept",
                          "This image has no predicted mask yet: segment it (or run an adaptation) first, "
                          "or paint its vessels and save the correction.")
            return False
        if not self.save():
            return False
        try:
            proj.set_state(self.image_id, "reviewed")
        except (ValueError, OSError, KeyError) as exc:
            dialogs.error(self, "Cannot mark the image reviewed", str(exc))
            return False
        self.studio.images_changed.emit()
        self.studio.status.emit(f"accepted the mask of {proj.image(self.image_id).name} as reviewed"
                                + adapting_note(self._adapting()))
        return True

    def revert(self) -> bool:
        """Drop the unsaved edits (and their draft): the image shows its saved correction, else its
        prediction at the mask threshold. Unsaved edits are asked about first (it cannot be undone)."""
        proj = self.studio.project
        if proj is None or self.image_id is None:
            return False
        if self.dirty and not dialogs.confirm(
                self, "Revert edits",
                f"Drop the unsaved edits of {proj.image(self.image_id).name} and go back to its "
                f"{'saved correction' if proj.correction_path(self.image_id).is_file() else 'prediction'}? "
                "This cannot be undone."):
            return False
        tasks.drop_draft(proj, self.image_id)
        self._draft_digest = None
        self._reload_maps()
        return True

    def discard_saved(self) -> bool:
        """Remove the image's saved correction (a mistaken Save or Accept) and its draft, after asking:
        the saved mask is a trusted label (export writes it, the next adaptation round trains on it).
        The image goes back to "predicted" (to "new" when it has no prediction) and shows its
        prediction at the mask threshold again."""
        proj = self.studio.project
        if proj is None or self.image_id is None or not proj.correction_path(self.image_id).is_file():
            return False
        if self._adapting():  # the button is disabled then (see its tooltip)
            dialogs.error(self, "Busy", DISCARD_BUSY_TIP)
            return False
        image_id = self.image_id
        rec = proj.image(image_id)
        unsaved = (" Its unsaved edits are dropped too." if self.dirty or tasks.draft_path(proj, image_id).is_file()
                   else "")
        after = (f"The image goes back to its prediction (p ≥ {self.threshold.value():.2f})." if self.prob is not None
                 else "No prediction is shown for this image: its mask will be empty.")
        if not dialogs.confirm(
                self, "Discard saved mask",
                f"Discard the saved mask of {rec.name} ({rec.state})? It is a trusted label: export writes it and "
                f"the next adaptation round trains on it. {after}{unsaved} This cannot be undone."):
            return False
        try:
            tasks.drop_draft(proj, image_id)  # first: a draft left behind would bring the mask back
            proj.remove_correction(image_id)  # state: "predicted" after a round, else "new"
            if proj.image(image_id).state == "new" and tasks.probability(proj, image_id) is not None:
                proj.set_state(image_id, "predicted")  # a source-only prediction, as segmenting sets it
        except (ValueError, OSError, KeyError) as exc:
            dialogs.error(self, "Cannot discard the saved mask", str(exc))
            self.studio.images_changed.emit()
            return False
        self._draft_digest = None
        self._reload_maps()  # the prediction at the mask threshold; "mask from" says so
        self.studio.images_changed.emit()
        self.studio.status.emit(f"discarded the saved mask of {rec.name}: it shows its prediction again")
        return True

    def autosave(self) -> None:
        """Write unsaved edits to the project-side draft (only when they changed); refresh the
        "unsaved edits" line (napari's own Ctrl+Z / Ctrl+Shift+Z on the mask layer change it
        without a paint event)."""
        proj = self.studio.project
        if proj is None or self.image_id is None:
            return
        self._update_edit_state()
        if not self.dirty:
            # edits undone back to the saved state: their draft would bring them back when the image
            # is opened again (and export would ask about it); not when the mask layer is gone
            if self.mask_layer is not None and self._baseline is not None:
                try:
                    tasks.drop_draft(proj, self.image_id)
                except OSError:
                    pass
                self._draft_digest = None
                if self._mask_origin == "draft":  # the mask is the saved state under the draft now
                    self._mask_origin = "corrected" if proj.correction_path(self.image_id).is_file() else "predicted"
                    self._update_edit_state()
            return
        data = self.mask_layer.data
        digest = _digest(data)
        if digest == self._draft_digest:
            return
        try:
            tasks.write_draft(proj, self.image_id, data > 0)
        except OSError as exc:  # a read-only or full disk: say it once, keep trying every tick
            if not self._autosave_failed:
                self._autosave_failed = True
                self.studio.status.emit(f"cannot autosave the unsaved edits ({exc}); save the correction "
                                        "or free the disk, autosave keeps trying")
            return
        if self._autosave_failed:
            self._autosave_failed = False
            self.studio.status.emit("autosave works again")
        self._draft_digest = digest

    def confirm_leave(self) -> bool:
        """Leave hook: unsaved edits → save / discard / stay."""
        if not self.dirty:
            return True
        name = self.studio.project.image(self.image_id).name
        answer = dialogs.save_discard_cancel(self, "Unsaved correction", f"The mask of {name} has unsaved edits.")
        if answer == "save":
            return self.save()
        if answer == "discard":
            tasks.drop_draft(self.studio.project, self.image_id)
            self._draft_digest = None
            self._set_mask(self._baseline)  # the edits are gone from the screen too
            self._update_edit_state()
            return True
        return False
