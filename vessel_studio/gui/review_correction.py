"""Correcting a mask in the Review panel: edit modes, undo/redo, save, drafts, autosave, leaving.

The ``mask`` layer holds the correction being edited; ``_baseline`` is what it was when shown
(the saved correction, the thresholded prediction, or for a restored draft the saved state under
it), so the panel is *dirty* when the layer differs from it. Save writes the corrected mask to the
project atomically; unsaved edits are autosaved to ``PROJECT/gui/drafts`` (only when they changed)
and the user is asked before they would be dropped (another image, another project, closing).

A large mask (``tasks.SAVE_IN_WORKER_PIXELS``: a camera's 12-16 megapixels) is encoded and written in
a worker (:class:`.review_workers.Saver`; 140-190 ms of the GUI thread at 15 megapixels): the
image says "saving…" and its edits count as unsaved until the file has landed, then the draft is
dropped; a failure names the file and leaves the edits unsaved (kept as the image's draft when the
image was left meanwhile). Stepping to another image with no edit since the save leaves it to land in
the background; whatever needs the saved file (another project, closing, an export or adaptation
starting: ``studio.can_leave`` / ``start_job``; Revert, Discard, showing that image again; edits made
since the save, to ask about) waits for the saves in flight first (``Saver.flush``).
"""

from __future__ import annotations

import hashlib

import numpy as np

from vessel_studio.gui import dialogs, tasks
from vessel_studio.gui.qtutil import park_focus
from vessel_studio.gui.review_pieces import PIECE
from vessel_studio.gui.review_workers import SaveJob
from vessel_studio.store.project import UnknownImageError
from vessel_studio.wording import shown_names


def _digest(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a > 0).tobytes()).hexdigest()


def confirm_unsaved_drafts(parent, project, title: str, consequence: str) -> bool:
    """Images with autosaved edits that were never saved (drafts left by a crash or a closed Review
    panel, shown again only when their image is opened): name them, say ``consequence`` and ask
    whether to go on. True when there are none. Ask after the leave hooks (the image on screen)."""
    names = tasks.draft_names(project)  # with the id where two images share a name
    if not names:
        return True
    shown = shown_names(names, 8)
    return dialogs.confirm(
        parent, title,
        f"{len(names)} image(s) have autosaved edits that were never saved: {shown}. {consequence} To include "
        "the edits, open each image in Review and save its correction. Go on anyway?")


DISCARD_TIP = ("Remove this image's saved correction (asks first): it goes back to its prediction and the next "
               "adaptation round no longer trains on it")
DISCARD_BUSY_TIP = ("An adaptation is running: its round in progress already trains on this saved mask, so discarding "
                    "it now would only reach its later rounds. Discard it once the adaptation has finished (or "
                    "cancel it), then run the adaptation again.")
DISCARD_EXPORT_TIP = ("An export is running: it may already have written this saved mask into the export folder, so "
                      "discarding it now would leave that file behind. Discard it once the export has finished (or "
                      "cancel it), then export again.")
#: Discard saved mask while another process's job holds the project (``Studio.outside_job``, session 38: the button
#: waited for this window's own adaptation only, and a terminal's round in progress kept a mask discarded meanwhile)
#: (session 39: it named the job twice, "vessel-studio adapt (…) holds this project: an adaptation running there (a
#: terminal's vessel-studio adapt, another window) …"; it names it once)
#: (the holder may be a terminal's ``rounds --restore`` too, which trains nothing: hence "if it is adapting")
DISCARD_ELSEWHERE_TIP = ("{holder} holds this project. If it is adapting, its round in progress trains on this saved mask "
                         "and discarding it now would reach only the later rounds: discard it once that job has ended "
                         "(or stop it there), then run the adaptation again.")
#: the job during which Discard saved mask waits, and why
DISCARD_WAITS_FOR = {"Adaptation": DISCARD_BUSY_TIP, "Export": DISCARD_EXPORT_TIP}


def adapting_note(adapting: bool) -> str:
    """What a mask saved while an adaptation runs does there (appended to the status line)."""
    return ("; the running adaptation trusts it from its next round (the round in progress read the saved masks "
            "when it started)") if adapting else ""


def _name(project, image_id: str) -> str:
    try:
        return project.image(image_id).name
    except (KeyError, ValueError, OSError):
        return image_id


def saved_note(job: str | None) -> str:
    """What a mask saved while the job ``job`` (the runner's, or None) runs does there (appended to
    the status line): an adaptation trusts it from its next round, an export may already have written
    this image's previous mask or prediction (it writes the images in project order)."""
    if job == "Adaptation":
        return adapting_note(True)
    if job == "Export":
        return ("; the running export may already have written this image's previous mask: export again to "
                "include this one")
    return ""


class CorrectionMixin:
    """The Review panel's correction editing, as a mixin of :class:`~.review_panel.ReviewPanel`.

    The panel provides ``studio`` (its ``runner``), ``viewer``, ``image_id``, ``image``, ``prob``, the ``threshold``
    spin box, the ``edit_state`` label and the ``btn_discard`` button, :class:`~.review_pieces.PiecesMixin`'s
    ``_start_piece`` / ``_stop_piece``, the attributes ``_baseline``, ``_mask_origin``, ``_draft_digest``,
    ``_draft_key``, ``_saved_key``, ``_shared_draft``, ``_draft_hold``, ``_autosave_failed`` and ``_saver`` (a
    :class:`~.review_workers.Saver` calling :meth:`_save_landed`), and the methods ``_set_mask``, ``_reload_maps``
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
        """Paint / Erase / Fill (napari's modes, painting label 1) or "Erase piece" (``review_pieces.PIECE``:
        napari's pan/zoom: a click erases the piece under it, a drag pans)."""
        layer = self.mask_layer
        if layer is None:
            self._stop_piece()
            return
        layer.selected_label = 1
        layer.mode = "pan_zoom" if mode == PIECE else mode  # another mode ends Erase piece (_mask_mode_changed)
        self.viewer.layers.selection.active = layer
        if mode == PIECE:
            self._start_piece(layer)
        else:
            self._stop_piece()

    def undo(self) -> None:
        if self.mask_layer is not None:
            self.mask_layer.undo()
            self._edited()

    def redo(self) -> None:
        if self.mask_layer is not None:
            self.mask_layer.redo()
            self._edited()

    def _edited(self, event=None) -> None:
        if not self._setting_mask:  # an edit, not a mask being shown: its vessel measures once the editing pauses
            self._measure_timer.start()  # restarted by each paint event (a QTimer's start: microseconds)
            self._measurer.drop_pending()  # a measure of the mask before this edit, still running, is not shown
        if getattr(event, "type", None) == "set_data":
            # napari's Undo / Redo of the mask layer (Ctrl+Z), or a new mask being shown: the "unsaved edits"
            # line follows once the event loop is back (a load sets the data before the state it is compared to)
            self._edit_state_timer.start()
            if self._draft_digest is None and not self._setting_mask:
                # napari's Redo (or Undo) with no draft of these edits (dropped once they were undone): autosaved at
                # once, as a first edit (before, session 37, at the next 3 s tick). Not a mask being shown
                # (``_set_mask``): a restored draft is not written again until it is edited
                self._autosave_first_edit_soon()
            return
        self._update_edit_state()
        if self._draft_digest is None:
            # the first edit since the image was shown (or saved, reverted, its draft dropped) is autosaved as soon as
            # the event loop is back, not at the timer's next tick up to 3 s later: ``vessel-studio images --remove``
            # in a terminal refuses an image whose draft it sees, and before session 36 it removed one whose edits
            # were younger, the edits with it. Not from here: napari emits the paint event of a single dab before it
            # changes the data
            self._autosave_first_edit_soon()

    def _autosave_first_edit_soon(self) -> None:
        timer = getattr(self, "_first_edit_timer", None)
        if timer is None:  # made here, at the first edit: the panel's __init__ makes the other timers
            from qtpy.QtCore import QTimer

            timer = self._first_edit_timer = QTimer(self)
            timer.setSingleShot(True)
            timer.setInterval(0)
            timer.timeout.connect(self._autosave_first_edit)
        timer.start()

    def _autosave_first_edit(self) -> None:
        """The draft of the first edit (``_edited``): written when no draft of this window's holds the edits yet.
        Not while the autosave fails (a full disk, a read-only project folder): the 3 s timer retries. Before (session
        36 QA), no draft being written, every edit (each mouse move of a stroke) tried again: ~90 ms each at 15
        megapixels, a stroke at a crawl."""
        if self._draft_digest is None and not self._autosave_failed and self.dirty:
            self.autosave()

    def _running_job(self) -> str | None:
        """The studio's running job ("Adaptation", "Export", ...), or None. An adaptation's rounds train on
        the saved masks each read when it started (``adaptation.job.adapt``), so a change to them reaches
        its later rounds only; an export writes each image's mask in its turn."""
        runner = self.studio.runner
        return runner.name if runner.running else None

    def _saved_note(self) -> str:
        """``saved_note`` of this window's job; with none, what another process's job holding the project (a
        terminal's adapt) does with the mask just saved: from its ``work/`` (``_adaptation_note``)."""
        job = self._running_job()
        holder = self.studio.outside_job if job is None else None
        if job == "Adaptation":  # this window's, as a terminal's below
            return self._adaptation_note("; the running adaptation", "finished")
        if holder and self._holder_adapts():
            return self._adaptation_note(f"; {holder} holds the project: the adaptation running there", "ended")
        return saved_note(job)

    def _holder_adapts(self) -> bool:
        """Whether the job of another process holding the project is an adaptation: its lock file says what it
        was taken for (``Project.job_task``); a lock that does not say (an older version's) is taken for one."""
        try:
            task = self.studio.project.job_task()
        except (OSError, AttributeError):
            return True
        return task in (None, "adapt")

    def _adaptation_note(self, who: str, ended: str) -> str:
        """What the adaptation holding the project (``who``: this window's, or another process's) does with a mask
        saved now (``adaptation.job.saved_mask_reach``, from its ``work/job.json`` and work folders). Each of its
        rounds, and each re-run of a round by the label-free guard, reads the saved masks when it starts. Session 39
        QA: a mask saved in the last round was said to be trusted "from its next round", and no round of that run
        trained on it; then the last-round note said "does not train on this mask" though a guard re-run of that
        round would, and "from its next round" showed where the stopping rule may end the run first. Where the run's
        record cannot be read, the note says only what is true of any run."""
        reach = self._saved_mask_reach()
        started = "which read the saved masks when it started"
        if reach is None:
            return f"{who} trusts it in the rounds it starts from now on (the round in progress read the saved masks " \
                   "when it started)"
        if not reach.started:  # it reads them when it begins: it trains on this mask
            return f"{who} trusts it from the round about to begin (round {reach.round})"
        again = f"run the adaptation again once it has {ended}"
        if reach.in_last_round:
            if reach.retry_left:
                return (f"{who} is in its last round, {started}: it trains on this mask only if the label-free guard "
                        f"runs that round again (the re-run reads them again); else {again}")
            who_not = "it" if ended == "finished" else "that run"
            return f"{who} is in its last round, {started}, so {who_not} does not train on this mask: {again}"
        if reach.may_stop:
            return (f"{who} trusts it from its next round if it goes on to one (the label-free stopping rule may end "
                    f"it after the round in progress, {started}; if it does, {again})")
        return f"{who} trusts it from its next round (the round in progress read the saved masks when it started)"

    def _saved_mask_reach(self):
        """``adaptation.job.saved_mask_reach`` of the project (None: unknown); "Stop after this round" asked of this
        window's adaptation makes the round in progress its last."""
        from vessel_studio.adaptation.job import saved_mask_reach

        panel = getattr(self.studio, "panels", {}).get("Adaptation")
        stop = getattr(panel, "_stop", None)
        stopping = self._running_job() == "Adaptation" and stop is not None and stop.is_set()
        try:
            return saved_mask_reach(self.studio.project, stop_requested=stopping)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _discard_waits(self, *, look: bool = False) -> str | None:
        """Why Discard saved mask waits now (its tooltip), else None: this window's adaptation or export
        (``DISCARD_WAITS_FOR``), or another process's job holding the project, as the studio's watcher last saw it
        (``look``: probe the lock now, at a click)."""
        busy = DISCARD_WAITS_FOR.get(self._running_job())
        if busy is not None:
            return busy
        holder = self.studio.outside_job
        proj = self.studio.project
        if look and proj is not None:
            try:
                holder = proj.job_elsewhere()
            except OSError:
                holder = None
        return DISCARD_ELSEWHERE_TIP.format(holder=holder) if holder else None

    def _saving(self) -> bool:
        """A save of the image on screen is still being written (a large mask, in the worker)."""
        return self.image_id is not None and self._saver.in_flight(self.studio.project, self.image_id) is not None

    def _update_edit_state(self) -> None:
        busy = self._discard_waits()
        # Discard is the undo of a trusted label: a round already training on it, or an export that may
        # have written it, would keep it (half applied); it waits for them, as Run and Roll back wait
        # for a running job
        self.btn_discard.setToolTip(busy or DISCARD_TIP)
        if self.image_id is None:
            self.edit_state.setText("")
            park_focus(self.btn_discard)
            self.btn_discard.setEnabled(False)
            return
        proj = self.studio.project
        can_discard = proj is not None and proj.correction_path(self.image_id).is_file() and busy is None
        if not can_discard:  # Space on it, answered yes: the focus not on to the dock's "hide this panel" button
            park_focus(self.btn_discard)
        self.btn_discard.setEnabled(can_discard)
        draft = ("restored autosaved draft (not saved), older than the saved correction: edits of an earlier mask, "
                 "saving them replaces it" if self._draft_older
                 else "restored autosaved draft (not saved)")
        origin = {"corrected": "saved correction", "draft": draft,
                  "predicted": self._predicted_text(), "none": "empty"}.get(self._mask_origin, self._mask_origin)
        if self._saving():
            prefix = "saving… — "
        else:
            dirty = self.dirty  # (~30 ms at 15 megapixels)
            prefix = "● unsaved edits — " if dirty else ""
            if dirty and proj is not None and self._draft_is_theirs(proj):  # not written over theirs (autosave)
                prefix = "● unsaved edits, not autosaved: another window's autosaved edits of this image are kept — "
        self.edit_state.setText(prefix + f"mask from: {origin}")

    def _predicted_text(self) -> str:
        """"mask from" of a mask drawn from a prediction: the threshold (and map) it was drawn with, which
        are not the ones chosen now once the Mask threshold or Show changed during unsaved edits (they keep
        the mask; before session 34 the line named the new threshold, and a mask accepted after the edits were
        undone was p ≥ 0.50 under a line that said p ≥ 0.30)."""
        made = self._mask_threshold
        chosen = self.threshold.value()
        if made is None:
            made = chosen
        text = f"prediction (p ≥ {made:.2f})"
        other_map = self._mask_map is not None and self._shown is not None and self._mask_map != self._shown
        if other_map:
            text = f"{self._map_name(self._mask_map)} (p ≥ {made:.2f})"
        if other_map or round(made, 2) != round(chosen, 2):
            text += f"; Revert edits redraws it at p ≥ {chosen:.2f} from the map shown" if self.prob is not None else ""
        return text

    # --- the starting mask ---------------------------------------------------------------------

    def _threshold_changed(self, _value: float) -> None:
        """Re-threshold the starting mask of an image shown straight from its prediction; a saved
        correction, a restored draft or unsaved edits are left as they are."""
        # "none": an empty mask shown before the image had a prediction (a segmentation kept edits since undone);
        # the threshold draws it from the prediction now, as for any image with no saved mask and no edits
        if (self.image_id is None or self.prob is None or self._mask_origin not in ("predicted", "none")
                or self.dirty or self._saving()):  # a mask being saved (accepted) stays as it is
            self._update_edit_state()
            return
        mask = self.prob >= self.threshold.value()
        self._mask_origin = "predicted"
        self._baseline = mask.copy()
        self._mask_threshold, self._mask_map = self.threshold.value(), self._shown
        self._set_mask(mask)
        self._update_edit_state()
        # the vessel measures are the mask on screen's (before session 38 they stayed the mask's drawn at the
        # threshold before: QA, STARE im0162 at p >= 0.3 said the density of p >= 0.5)
        self._measure()

    def _baseline_for(self, origin: str, mask: np.ndarray) -> np.ndarray:
        """What counts as "no unsaved edits": for a restored draft, the saved state under it
        (``tasks.mask_baseline``)."""
        return tasks.mask_baseline(self.studio.project, self.image_id, origin, mask, self.prob, self.threshold.value(),
                                   self.image.shape[:2])

    def _unreadable_mask(self, exc: Exception) -> None:
        """The image's saved correction or draft cannot be read: name the file and show no mask
        (the previous image's stayed on screen under this image's name, where Save would write it)."""
        dialogs.error(self, "Cannot show the mask", f"{exc}\n\nFix or remove that file, then open the image again.")
        self._clear()
        self.title.setText("Cannot show this image's mask (see the error message): choose another image")

    # --- saving, drafts, leaving ---------------------------------------------------------------

    def save(self, *, wait: bool = False) -> bool:
        """Save the mask on screen as the image's correction (state "corrected"). A large mask
        (``tasks.SAVE_IN_WORKER_PIXELS``) is encoded and written in a worker: True then says the save
        was started (``wait``: it has landed); a small one is written before this returns (True: it
        landed). Either way its outcome is taken in :meth:`_save_landed`."""
        return self._save(reviewed=False, wait=wait)

    def _nothing_to_save(self, title: str) -> bool:
        """No mask to make a trusted label of: no prediction drew it (origin "none") and nothing is painted.
        Says why in an error dialog titled ``title``; True then. Before (session 34 QA) only Accept refused it:
        Save correction (Alt+S) on an image not yet segmented wrote an empty mask, state "corrected", which the
        next adaptation round trained on as "no vessels here"."""
        layer = self.mask_layer
        if self._mask_origin != "none" or (layer.data > 0).any():
            return False
        proj = self.studio.project
        try:  # a map of another round, or the source-only one (only their files are looked at)
            has_map = tasks.source_only_path(proj, self.image_id).is_file() or any(
                proj.prediction_path(self.image_id, r.index).is_file() for r in proj.rounds)
        except (ValueError, OSError):
            has_map = False
        if self.prob is not None:  # painted before its prediction came (a segmentation kept the edits), undone
            why = "The mask on screen is empty, shown before this image had a prediction: Revert edits draws it " \
                  "from the prediction shown"
        elif has_map:
            why = "The round chosen in Show has no map of this image: choose another map in Show"
        else:
            why = "This image has no predicted mask yet: segment it (or run an adaptation) first"
        dialogs.error(self, title, f"{why}, or paint its vessels and save the correction. An empty mask is not "
                                   "saved: the next adaptation round would train on it as an image without vessels.")
        return True

    def _save(self, *, reviewed: bool, wait: bool = False) -> bool:
        proj, layer = self.studio.project, self.mask_layer
        if proj is None or layer is None or self.image_id is None:
            return False
        if self._nothing_to_save("Nothing to accept" if reviewed else "Nothing to save"):
            return False
        if self._saved_since_shown(proj):
            return False
        if not reviewed and self._still_reviewed(proj):
            return True
        # Save correction of a prediction with no edits: what Accept as reviewed does, the same mask saved and the
        # image "reviewed" (session 37: before, "corrected", and the Project panel, ``vessel-studio images`` and the
        # export record said a person had corrected a mask taken as it was predicted)
        unedited = not reviewed and self._unedited_prediction(proj)
        mask = layer.data > 0
        job = SaveJob(proj, self.image_id, mask, reviewed=reviewed or unedited)
        job.draft_key = self._draft_key
        job.unedited = unedited
        if tasks.pixels(mask.shape) <= tasks.SAVE_IN_WORKER_PIXELS:
            # a small mask (20 ms): written here, so the file is there when the call returns; it lands
            # through the same _save_landed as a worker's save (one set of states, messages and errors)
            self._saver.run_here(job)
            return job.error is None and job.state_error is None
        self._saver.submit(job)  # after any earlier save of it: they land in this order
        self._update_edit_state()  # "saving…"
        self.studio.status.emit(f"saving the mask of {_name(proj, self.image_id)}…")
        if wait:
            self._saver.flush()
            return job.error is None and job.state_error is None
        return True

    def _saved_since_shown(self, proj) -> bool:
        """No unsaved edits here, and the image's saved correction is no longer the one this window read with the mask
        on screen: another window or program saved, accepted or discarded it since (the watcher follows such a change
        at its second look, up to ~2 s later, and the mask is then read in a worker). Save / Accept now would write a
        mask nobody edited here over that correction (session 38: "Accept as reviewed" in that interval replaced
        another window's fresh correction with the prediction on screen, without a word). Nothing is written; the
        saved mask is read again and shown, and the status bar says so; True then. With unsaved edits here, a save
        replaces the mask saved there, as the status bar says once the change is seen (``changed_elsewhere``)."""
        if self.dirty or self._saver.in_flight(proj, self.image_id) is not None:  # this window's own write in flight
            return False
        try:
            now = tasks.stat_key(proj.correction_path(self.image_id))
        except (ValueError, OSError):  # the save says what is wrong
            return False
        if now == self._saved_key:
            return False
        name = _name(proj, self.image_id)
        self.studio.status.emit(f"nothing saved: the saved mask of {name} was changed in another window or program "
                                "since it was shown here; reading it again")
        self.changed_elsewhere(self.image_id, then=f"the saved mask of {name}, changed in another window or program, "
                               "is shown now: nothing was saved here")
        return True

    def _unedited_prediction(self, proj) -> bool:
        """The mask on screen is the image's prediction (at the threshold it was drawn with) with no edits: shown
        from the prediction, or a restored draft that is the same as the prediction under it (no saved mask)."""
        if self._mask_origin not in ("predicted", "draft") or self.dirty:
            return False
        if self._mask_origin == "predicted":
            return True
        try:
            return self.prob is not None and not proj.correction_path(self.image_id).is_file()
        except (ValueError, OSError):
            return False

    def _still_reviewed(self, proj) -> bool:
        """Save correction with no edits of a mask accepted as reviewed: nothing is written and the image stays
        "reviewed" (the status bar says so); True then. Before (session 36), the Save wrote the same mask again and
        made the image "corrected": the Project panel, ``vessel-studio images`` and the export record then claimed
        a hand correction of a mask accepted unedited. Only when the mask on screen is the saved one as this window
        read or saved it (no save of it in flight, none by another window since)."""
        image_id = self.image_id
        job = self._saver.in_flight(proj, image_id)
        if job is not None:
            # an Accept of this very mask still being written (a large mask, in the worker): it lands as "reviewed".
            # Before (session 36 QA), a Save pressed before it landed wrote the same mask again as "corrected"
            if not (job.reviewed and np.array_equal(self.mask_layer.data > 0, job.mask)):
                return False
            self.studio.status.emit(f"no edits to save: the mask of {_name(proj, image_id)} is being accepted as "
                                    "reviewed and stays so (edit it, then Save correction, to make it \"corrected\")")
            return True
        if self.dirty or self._saved_key is None:
            return False
        # the saved mask is the one this window read or saved: ``_save`` asked ``_saved_since_shown`` first
        try:
            if proj.image(image_id).state != "reviewed":
                return False
        except (KeyError, ValueError, OSError):  # the save below says what is wrong
            return False
        if self._mask_origin == "draft":  # a restored draft the same as the saved mask: it goes, as a Save drops it
            self._drop_own_draft(proj)
            self._draft_digest = None
            self._mask_origin = "corrected"
            self._update_edit_state()
        self.studio.status.emit(f"no edits to save: the mask of {_name(proj, image_id)} stays accepted as reviewed "
                                "(edit it, then Save correction, to make it \"corrected\")")
        return True

    def _saved_on_screen(self, proj, mask: np.ndarray) -> None:
        """``mask`` has landed as the correction of the image on screen: it is what "unsaved edits"
        compare with now, and its draft goes (the draft is dropped only after the save landed)."""
        self._baseline = mask.copy()
        self._mask_origin = "corrected"
        self._saved_key = tasks.stat_key(proj.correction_path(self.image_id))  # another window's later save is followed
        self._draft_digest = None
        if self.dirty:  # edited while a save in the worker was being written: those edits are the draft
            self.autosave()
        else:
            self._drop_own_draft(proj)
        self._update_edit_state()

    def _drop_own_draft(self, proj) -> None:
        """Drop the draft of the image on screen when it is the one this window wrote or restored: a draft
        another window wrote since (its unsaved edits of the same image) stays. Before (session 32 QA, two
        windows), a window with no edits deleted the other window's draft at every autosave, and a Save or
        Accept deleted it too: a crash of that window then lost its edits."""
        path = tasks.draft_path(proj, self.image_id)
        dropped = False
        # held with no draft there: a take-over whose own draft could not be written (a full disk) has nothing of
        # its own to drop, and the draft it set aside goes back all the same (QA session 37: it stayed aside for good)
        key = tasks.stat_key(path)
        held_none = key is None and self._holds_draft(proj, self.image_id)
        if self._draft_key is not None and key == self._draft_key:
            try:
                path.unlink()
                dropped = True
            except OSError:  # the saved correction is newer; a draft left behind is named when shown
                pass
        self._draft_key = None
        self._release_draft_hold()
        if dropped or held_none:
            self._put_back_ended_draft(proj, self.image_id)

    # --- the draft hold (tasks.hold_draft): one window's unsaved edits are an image's draft ---------------

    def _holds_draft(self, proj, image_id) -> bool:
        hold = self._draft_hold
        return hold is not None and hold[0] is proj and hold[1] == image_id

    def _take_draft_hold(self, proj) -> bool:
        """True when this window holds the draft of the image on screen (taken now if need be); False when
        another window holds it (its unsaved edits of the image are the draft)."""
        if self._holds_draft(proj, self.image_id):
            return True
        self._release_draft_hold()
        try:
            fd = tasks.hold_draft(proj, self.image_id)
        except OSError:  # no lock file (a read-only folder): the draft's write says what is wrong
            return True
        if fd is None:
            return False
        self._draft_hold = (proj, self.image_id, fd)
        return True

    def _release_draft_hold(self) -> None:
        hold, self._draft_hold = self._draft_hold, None
        if hold is not None:
            tasks.release_draft(hold[2])

    def _draft_held_elsewhere(self, proj, image_id) -> bool:
        """Another window (a live process) holds the image's draft: its unsaved edits."""
        return not self._holds_draft(proj, image_id) and tasks.draft_held(proj, image_id)

    def _save_landed(self, job: SaveJob) -> None:
        """A save from the worker (:class:`~.review_workers.Saver`, on the GUI thread, in order): the image
        on screen takes it as its saved state; a failure names the file and the edits stay unsaved."""
        proj = job.project
        name = _name(proj, job.image_id)
        here = proj is self.studio.project and job.image_id == self.image_id
        later = self._saver.in_flight(proj, job.image_id)  # a later save of it, still to land
        if job.error is not None:
            path = proj.correction_path(job.image_id)
            text = str(job.error)
            if str(path) not in text:
                text = f"{path}: {text}"
            kept = "Its edits stay on screen, unsaved."
            if not here and later is None:  # the image was left while it was written: keep them as its draft
                try:
                    if self._write_left_draft(proj, job.image_id, job.mask, job.draft_key):
                        kept = "Its edits were kept as an autosaved draft: open the image again to save them."
                    else:  # another window's live edits are the draft: not written over
                        self._kept_edits[job.image_id] = (proj, job.mask)
                        self._kept_draft_keys[job.image_id] = job.draft_key
                        kept = ("Another window has unsaved edits of it, autosaved as its draft (not written over): "
                                "these edits are kept in this window (autosave writes them as the draft once that "
                                "window's is gone; leaving the project or closing asks first); open the image "
                                "again to save them.")
                except (OSError, ValueError) as exc:
                    self._kept_edits[job.image_id] = (proj, job.mask)
                    self._kept_draft_keys[job.image_id] = job.draft_key
                    kept = (f"Its edits could not be kept as a draft either ({exc}): they are kept in this window "
                            "(autosave tries the draft again; leaving the project or closing asks first); open the "
                            "image again to save them.")
            dialogs.error(self, "Cannot save the correction",
                          f"The corrected mask of {name} was not saved (the file keeps its earlier content).\n\n"
                          f"{text}\n\n{kept}")
            if here:
                self._update_edit_state()
            return
        if here and later is None:
            self._saved_on_screen(proj, job.mask)
        elif not here and later is None and not tasks.draft_held(proj, job.image_id):
            # the draft of the edits just saved; not one another window holds (it opened the image meanwhile and
            # its unsaved edits are the draft: before, session 36 QA, this deleted them until its next autosave), nor
            # one a window that ended left since (it restored this window's draft, edited it and crashed: QA session
            # 37, its edits went): only this window's own (``SaveJob.draft_key``)
            path = tasks.draft_path(proj, job.image_id)
            try:
                if job.draft_key is not None and tasks.stat_key(path) == job.draft_key:
                    path.unlink()
            except OSError:
                pass
            if tasks.stat_key(path) is None:
                self._put_back_ended_draft(proj, job.image_id)
        # and rounds another program changed while this save waited (a question open, a large mask written): told
        # before the save's line (``Studio.images_changed_here``)
        self.studio.images_changed_here()
        if job.state_error is not None:
            dialogs.error(self, "Cannot mark the image reviewed", str(job.state_error))
            self.studio.status.emit(f"saved the corrected mask of {name}" + self._saved_note())
        elif job.unedited:
            self.studio.status.emit(f"no edits: the prediction of {name} was saved as it is and marked reviewed, as "
                                    "Accept as reviewed does (edit it, then Save correction, to make it "
                                    "\"corrected\")" + self._saved_note())
        elif job.reviewed:
            self.studio.status.emit(f"accepted the mask of {name} as reviewed" + self._saved_note())
        else:
            self.studio.status.emit(f"saved the corrected mask of {name}" + self._saved_note())
        if here:
            self._measure()

    def mark_reviewed(self) -> bool:
        """Accept the mask on screen as this image's mask: save it (with any unsaved edits) as the
        image's correction and mark the image "reviewed". The accepted mask is then what export
        writes and what the next adaptation round trusts, whatever the mask threshold or a later
        round predicts (before, only the state changed: an image accepted at threshold 0.3 exported
        p >= 0.5, and the next round's prediction replaced the accepted mask). A large mask is saved
        in a worker, as :meth:`save`."""
        proj, layer = self.studio.project, self.mask_layer
        if proj is None or layer is None or self.image_id is None:
            return False
        return self._save(reviewed=True)  # refused when there is nothing to accept (_nothing_to_save)

    def revert(self) -> bool:
        """Drop the unsaved edits (and their draft): the image shows its saved correction, else its
        prediction at the mask threshold. Unsaved edits are asked about first (it cannot be undone)."""
        proj = self.studio.project
        if proj is None or self.image_id is None:
            return False
        self._saver.flush()  # back to the saved correction: the one being written
        if proj.correction_path(self.image_id).is_file():
            back = "go back to its saved correction"
        elif self.prob is not None:  # the map shown, at the Mask threshold (_reload_maps)
            back = f"go back to its prediction (p ≥ {self.threshold.value():.2f})"
        else:  # before (session 34 QA) "go back to its prediction" where there was none: the mask went empty
            back = "leave its mask empty (no prediction is shown for this image)"
        if self.dirty and not dialogs.confirm(
                self, "Revert edits",
                f"Drop the unsaved edits of {proj.image(self.image_id).name} and {back}? This cannot be undone."):
            return False
        # only this window's draft: not one another window holds (its live unsaved edits: ``tasks.hold_draft``;
        # before, session 36 QA, a Revert here deleted it, without a question when this window had no edits: that
        # window wrote it again up to 3 s later, and meanwhile a crash of it, or ``images --remove`` in a terminal,
        # lost its edits), nor one a window that ended left since this window showed the image (not shown here: the
        # next showing of the image restores it, session 37)
        self._drop_own_draft(proj)
        self._draft_digest = None
        self._reload_maps(restore_draft=False)  # what it said it goes back to, not a draft another window left
        return True

    def discard_saved(self) -> bool:
        """Remove the image's saved correction (a mistaken Save or Accept) and its draft, after asking:
        the saved mask is a trusted label (export writes it, the next adaptation round trains on it).
        The image goes back to "predicted" (to "new" when it has no prediction) and shows its
        prediction at the mask threshold again."""
        proj = self.studio.project
        if proj is None or self.image_id is None:
            return False
        busy = self._discard_waits(look=True)
        if busy is not None:  # the button is disabled then (see its tooltip)
            dialogs.error(self, "Busy", busy)
            return False
        self._saver.flush()  # a save still being written would bring the mask back after the discard
        if not proj.correction_path(self.image_id).is_file():
            return False
        image_id = self.image_id
        rec = proj.image(image_id)
        draft = tasks.draft_path(proj, image_id)
        # not the draft this window wrote or restored; or drafts of windows that ended, set aside (set_draft_aside)
        aside = tasks.ended_draft_paths(proj, image_id)
        theirs = (draft.is_file() and tasks.stat_key(draft) != self._draft_key) or bool(aside)
        # another window holds it: its live unsaved edits of the image, which stay (session 37: before, Discard
        # deleted them; that window wrote them again at its next autosave, but a crash of it meanwhile, or
        # ``images --remove``, lost them)
        held = self._draft_held_elsewhere(proj, image_id)
        unsaved = " Its unsaved edits are dropped too." if self.dirty or (draft.is_file() and not theirs) else ""
        if held:
            unsaved += (" Another window has unsaved edits of this image (its autosaved draft): they are kept, and "
                        "saving them there saves a mask of it again.")
        elif theirs:  # before (session 32 QA, two windows), another window's draft was called this one's unsaved edits
            unsaved += (" The draft of it that another window or program autosaved since this window showed it is "
                        "deleted too (a window still editing the image autosaves its edits again).")
        after = (f"The image goes back to its prediction (p ≥ {self.threshold.value():.2f})." if self.prob is not None
                 else "No prediction is shown for this image: its mask will be empty.")
        if not dialogs.confirm(
                self, "Discard saved mask",
                f"Discard the saved mask of {rec.name} ({rec.state})? It is a trusted label: export writes it and "
                f"the next adaptation round trains on it. {after}{unsaved} This cannot be undone."):
            return False
        try:
            if held:  # another window's live edits: kept (this window's own draft, if any, is not the draft then)
                self._drop_own_draft(proj)
            else:
                tasks.drop_draft(proj, image_id)  # first: a draft left behind would bring the mask back
                for path in aside:
                    path.unlink(missing_ok=True)
            proj.remove_correction(image_id)  # state: "predicted" after a round, else "new"
            if proj.image(image_id).state == "new" and tasks.probability(proj, image_id) is not None:
                proj.set_state(image_id, "predicted")  # a source-only prediction, as segmenting sets it
        except (ValueError, OSError, KeyError) as exc:
            dialogs.error(self, "Cannot discard the saved mask", str(exc))
            self.studio.images_changed_here()
            return False
        self._draft_digest = None
        self._reload_maps()  # the prediction at the mask threshold; "mask from" says so
        self.studio.images_changed_here()  # and rounds changed elsewhere while its question was open
        self.studio.status.emit(f"discarded the saved mask of {rec.name}: it shows its prediction again")
        return True

    def autosave(self) -> None:
        """Write unsaved edits to the project-side draft (only when they changed); refresh the
        "unsaved edits" line (it follows napari's own Ctrl+Z / Ctrl+Shift+Z through the layer's ``set_data``
        event, :meth:`_edited`)."""
        proj = self.studio.project
        if self._kept_edits:
            self._keep_edits_as_drafts()
        if proj is None or self.image_id is None:
            return
        self._update_edit_state()
        if not self.dirty:
            self._drop_undone_draft(proj)
            return
        path = tasks.draft_path(proj, self.image_id)
        key = tasks.stat_key(path)
        taken_over = key is not None and key != self._draft_key and self._take_over_ended_draft(proj)
        if taken_over:
            key = None  # the draft of a window that ended is set aside: these edits are written below
        if key is not None and key != self._draft_key:
            # a draft this window did not write or restore: another window's or program's unsaved edits of the image
            # (an image has one draft file). It is kept: these edits are not autosaved while it is there, and the
            # edit line and the status bar (once per image) say so. Before (session 36), each window wrote its
            # edits over the other's every 3 s: a crash of either lost its edits to the other's, and a window opened
            # later restored whichever had written last. Once it is gone (their Save, Discard or Revert) these
            # edits are written at the next tick, as when this window's own draft was deleted elsewhere. Not None:
            # no first-edit autosave at each edit meanwhile (``_edited``), the timer's ticks look again
            self._draft_digest = "theirs"
            self._draft_theirs_said(proj)
            return
        data = self.mask_layer.data
        digest = _digest(data)
        # written when the edits changed, and again when another window's Save, Discard or Revert of the image
        # deleted this window's draft (before session 32 these edits were then in no draft: a crash lost them)
        if digest == self._draft_digest and key == self._draft_key:
            return
        if not self._take_draft_hold(proj):  # another window holds it, its draft just deleted (its Save landing)
            self._draft_digest = "theirs"
            self._draft_theirs_said(proj)
            return
        try:
            tasks.write_draft(proj, self.image_id, data > 0)
        except UnknownImageError:  # taken out of the project by another program (images --remove): say it once
            if self._draft_digest != "gone":
                self._draft_digest = "gone"
                self.studio.status.emit("the image on screen is no longer in the project (removed by another "
                                        "program?): its edits are not autosaved")
            return
        except (OSError, ValueError) as exc:  # a read-only or full disk, an unreadable manifest: say it once, keep trying
            if not self._autosave_failed:
                self._autosave_failed = True
                advice = "save the correction or free the disk, " if isinstance(exc, OSError) else ""
                self.studio.status.emit(f"cannot autosave the unsaved edits ({exc}); {advice}autosave keeps trying")
            return
        if self._autosave_failed:
            self._autosave_failed = False
            self.studio.status.emit("autosave works again")
        self._draft_digest = digest
        self._draft_key = tasks.stat_key(path)
        job = self._saver.in_flight(proj, self.image_id)
        if job is not None:  # a save of the image in flight: the draft it writes over if it fails after a leave
            job.draft_key = self._draft_key
        if taken_over:  # the line said "not autosaved" (at the top of this autosave)
            self._update_edit_state()

    def _take_over_ended_draft(self, proj) -> bool:
        """The draft of the image on screen is not this window's (``autosave``), and these edits are unsaved: when
        no window holds it (its window ended, a crash or a close, with its edits unsaved), take its hold and set it
        aside (``tasks.set_draft_aside``), so that these edits are autosaved from now on; the status bar says where
        its edits are. They are not written over (the edits of a window that crashed, which a window opened later
        would have restored) and come back as the image's draft once this window's is gone (its Save, Revert:
        ``tasks.put_back_draft``): the image shown again offers them, as it would have. True when taken over;
        False while a window holds it (its live edits), or when it cannot be moved. Before (session 37), these
        edits stayed "not autosaved" for as long as the window was open."""
        image_id = self.image_id
        if self._holds_draft(proj, image_id):  # held here and written by another program (no hold): set aside too
            fd = None
        else:
            try:
                fd = tasks.hold_draft(proj, image_id)
            except OSError:  # no lock file (a read-only folder): the draft stays as it is
                return False
            if fd is None:  # a live window holds it
                return False
        try:
            aside = tasks.set_draft_aside(proj, image_id)
        except OSError:
            tasks.release_draft(fd)
            return False
        if fd is not None:
            self._release_draft_hold()
            self._draft_hold = (proj, image_id, fd)
        self._draft_key = None
        self._shared_draft = None
        self.studio.status.emit(
            f"the window that had unsaved edits of {_name(proj, image_id)} in its autosaved draft has ended without "
            f"saving them (closed or crashed): its draft is kept aside ({aside}) and is the image's draft again once "
            "the edits here are saved or reverted; the edits here are autosaved now")
        return True

    def _put_back_ended_draft(self, proj, image_id) -> None:
        """This window's draft of the image is gone (saved, reverted, undone): a draft set aside from a window that
        ended (``_take_over_ended_draft``) is the image's draft again, which showing the image restores."""
        try:
            back = tasks.put_back_draft(proj, image_id)
        except OSError:
            return
        if back is not None:
            self.studio.status.emit(f"the unsaved edits of {_name(proj, image_id)} that a window left when it ended "
                                    "are the image's autosaved draft again: showing the image again restores them")

    def _write_left_draft(self, proj, image_id, mask, own_key) -> bool:
        """Write ``mask`` as the draft of an image not on screen (a save that failed after the image was left),
        with the draft's hold taken for the write and released after (the draft is then one no window holds, as a
        closed panel leaves: the window that shows the image next restores it). Not over a draft another window
        holds (its live unsaved edits): False then; a draft that is not ``own_key`` (this window's, as it left the
        image) and that no window holds is set aside, not written over (``tasks.set_draft_aside``). Before (session
        37) the draft was written with no hold, over whatever draft the image had. Raises what the write raises."""
        fd = tasks.hold_draft(proj, image_id)
        if fd is None:
            return False
        try:
            key = tasks.stat_key(tasks.draft_path(proj, image_id))
            if key is not None and key != own_key:
                tasks.set_draft_aside(proj, image_id)
            tasks.write_draft(proj, image_id, mask)
        finally:
            tasks.release_draft(fd)
        return True

    def _drop_undone_draft(self, proj) -> None:
        """No unsaved edits (edits undone back to the saved state): their draft would bring them back when the
        image is opened again (and export would ask about it); it goes. Not when the mask layer is gone, nor another
        window's draft of the image. At the autosave's tick, and when the image is left (``confirm_leave``)."""
        if self.mask_layer is not None and self._baseline is not None:
            self._drop_own_draft(proj)
            self._draft_digest = None
            if self._mask_origin == "draft":  # the mask is the saved state under the draft now
                # no saved mask and no prediction shown: the empty mask it was painted on (before session 34,
                # "prediction (p ≥ 0.50)" with no prediction, and Save then wrote the empty mask)
                if proj.correction_path(self.image_id).is_file():
                    self._mask_origin = "corrected"
                else:
                    self._mask_origin = "predicted" if self.prob is not None else "none"
                self._update_edit_state()

    def _draft_is_theirs(self, proj) -> bool:
        """The image on screen has a draft that this window did not write or restore (another window's)."""
        key = tasks.stat_key(tasks.draft_path(proj, self.image_id))
        return key is not None and key != self._draft_key

    def _draft_theirs_said(self, proj) -> None:
        """Say once per image shown that its draft is another window's and these edits are not autosaved (the edit
        line says it while it lasts: ``_update_edit_state``, called at each autosave)."""
        if self._shared_draft == (proj, self.image_id):
            return
        self._shared_draft = (proj, self.image_id)
        self.studio.status.emit(f"another window or program has unsaved edits of {_name(proj, self.image_id)} in "
                                "its autosaved draft (an image has one): they are kept and not shown here, and "
                                "edits here are not autosaved while that draft is there; save them to keep them")

    def _keep_edits_as_drafts(self) -> None:
        """Edits that neither their save nor a draft could keep (``_kept_edits``, a full or read-only disk):
        try the draft again (every autosave tick); once written, they are an ordinary autosaved draft."""
        proj = self.studio.project
        for image_id, (p, mask) in list(self._kept_edits.items()):
            if p is not proj:
                continue
            try:
                if not self._write_left_draft(proj, image_id, mask, self._kept_draft_keys.get(image_id)):
                    continue  # another window's live edits are its draft: at a later tick
            except UnknownImageError:  # taken out of the project by another program: nothing to keep them for
                del self._kept_edits[image_id]
                self._kept_draft_keys.pop(image_id, None)
                continue
            except (OSError, ValueError):
                return  # the disk still refuses: try at the next tick
            del self._kept_edits[image_id]
            self._kept_draft_keys.pop(image_id, None)
            self.studio.status.emit(f"the unsaved edits of {_name(proj, image_id)} are kept as an autosaved draft now")

    def confirm_kept_edits(self) -> bool:
        """``studio.keep_checks``: before the project is left (another project, closing, an export or an
        adaptation), edits that only this window holds are named; True goes on without them."""
        proj = self.studio.project
        self._keep_edits_as_drafts()
        held = [i for i, (p, _m) in self._kept_edits.items() if p is proj]
        if not held:
            return True
        names = ", ".join(_name(proj, i) for i in held)
        return dialogs.confirm(
            self, "Edits kept only in this window",
            f"The edits of {names} could not be saved, nor kept as an autosaved draft (the disk refused both, or "
            "another window's unsaved edits are the image's draft; autosave keeps trying). They exist only in this window: closing it or opening another project "
            "loses them, and an export or an adaptation does not see them. Go on anyway? (No: open those "
            "images and save them once the disk has room.)")

    def confirm_leave(self) -> bool:
        """Leave hook (another image or project, closing, an export or adaptation starting): unsaved
        edits → save / discard / stay. A mask on screen that is being saved (no edit since) leaves at
        once, its save lands in the background (what needs the file waits for it: ``studio.flush``);
        else the saves still being written land first (a failed one leaves its edits unsaved, on screen)."""
        layer, job = self.mask_layer, None
        if self.image_id is not None and layer is not None:
            job = self._saver.in_flight(self.studio.project, self.image_id)
        if job is not None and np.array_equal(layer.data > 0, job.mask):
            return True
        self._saver.flush()
        if not self.dirty:
            # edits undone since the first edit's draft was written at once, the image left before the autosave's
            # next tick: the draft goes now. Before (session 36 QA), it stayed: the image opened again showed the
            # undone edits as "unsaved edits", and the next image's first edit was not autosaved at once
            if self.studio.project is not None and self.image_id is not None:
                self._drop_undone_draft(self.studio.project)
            return True
        name = _name(self.studio.project, self.image_id)  # the manifest may be unreadable (folder renamed elsewhere)
        answer = dialogs.save_discard_cancel(self, "Unsaved correction", f"The mask of {name} has unsaved edits.")
        if answer == "save":
            return self.save(wait=True)
        if answer == "discard":
            self._drop_own_draft(self.studio.project)  # another window's draft of the image (its edits) stays
            self._draft_digest = None
            self._set_mask(self._baseline)  # the edits are gone from the screen too
            self._update_edit_state()
            return True
        return False
