"""What the Review panel shows and what it says about it (a mixin of :class:`.review_panel.ReviewPanel`).

The "Show" and "Compare with" choices list the project's rounds (followed when rounds are rolled
back, here or outside the window; a newly opened project starts at "latest round" / "none"; a
finished adaptation shows its latest round); the line under them (``showing``) says which map is
on screen, which round "latest round" is, and what is missing. The label-free statistics (with
the shown map's agreement with the one before it) are computed inside the image's field of view,
as the vessel measures, which are computed in a worker (:class:`.review_workers.Measurer`), again once the
editing of the mask pauses (of the unsaved mask, as they then say). GUI thread only.
"""

from __future__ import annotations

import math
import re

from vessel_studio.adaptation.selection import FLAGGED_MARK, flag_kinds, flagged_rounds
from vessel_studio.gui import tasks

LATEST = "latest round"
NONE = "none"

#: a round's item in Show / Compare with: "round 3", or "round 3 (flagged by the guard)" (session 41)
_ROUND_ITEM = re.compile(r"round (\d+)(?= |$)")


def round_of(text: str) -> int | None:
    """The round a Show / Compare with item names ("round 3", "round 3 (flagged by the guard)"), else None."""
    m = _ROUND_ITEM.match(text)
    return int(m.group(1)) if m else None


def round_item(index: int, flagged) -> str:
    """A round's item in Show / Compare with: marked when the label-free guard flags it (``flagged``: the rounds it
    flags), as "Keep rounds up to" marks it."""
    return f"round {index}" + (FLAGGED_MARK if index in flagged else "")


class ShownMixin:
    """Needs the panel's ``studio``, ``viewer``, ``show_round``, ``compare``, ``showing``, ``stats``,
    ``measures``, ``show_unc``, ``image_id``, ``image``, ``_fov``, ``prob``, ``_shown``, ``_note``, ``_baseline``,
    ``_measurer``, ``_measured``, ``_showing_text``, ``_measure_timer`` (the measures of edits, once the editing
    pauses), ``_stats_reader``, ``_reload_maps`` and ``_flagged`` (the rounds the guard flags, with their warnings,
    as the choices list them)."""

    def _fill_round_choices(self, rounds: list | None = None) -> list[str]:
        """List the project's rounds (``rounds``: its records, when already read) in Show and Compare with, a
        round the label-free guard flags marked "(flagged by the guard)" with its warnings as the item's tooltip
        (session 41: a person reviewing a flagged round's masks was not told); a chosen round that is gone falls back
        to the first choice (latest round / none), a chosen round whose mark changed stays chosen. A chosen round
        whose maps were deleted ("Free disk…", ``rounds --prune``) is chosen again once they are made again ("Make
        maps again", ``rounds --restore``), unless another choice was made meanwhile (session 47 QA: Show stayed on
        "latest round", and after the window's own Make maps again the line kept saying the round was pruned, while
        the Adaptation panel said "Review shows it again"). Returns the chosen rounds that are gone ("round N")."""
        from qtpy.QtCore import Qt

        proj = self.studio.project
        if rounds is None:
            rounds = proj.rounds if proj is not None else []
        whole = [r.index for r in rounds if r.pruned is None]  # pruned: no maps
        pruned = {r.index for r in rounds if r.pruned is not None}
        self._flagged = flagged_rounds(rounds)
        gone, back = [], []
        for name, first in (("show_round", LATEST), ("compare", NONE)):
            combo = getattr(self, name)
            current = combo.currentText()
            chosen = round_of(current)
            was = self._pruned_choice.get(name)
            if was is not None and was not in pruned:  # its maps made again, or the round rolled back
                del self._pruned_choice[name]
                if was in whole and current == first:  # still on the choice it fell back to
                    chosen = was
                    back.append(f"round {was}")
            combo.blockSignals(True)
            combo.clear()
            items = [first] + ([LATEST] if first == NONE and whole else []) + [tasks.SOURCE_ONLY]
            start = len(items)
            items += [round_item(i, self._flagged) for i in whole]
            combo.addItems(items)
            for k, i in enumerate(whole):
                if i in self._flagged:
                    tip = "\n".join(["flagged by the label-free guard (the Adaptation panel's warning):",
                                     *self._flagged[i]])
                    combo.setItemData(start + k, tip, Qt.ItemDataRole.ToolTipRole)
            if chosen is not None:  # the same round, whatever its mark now
                if chosen in whole:
                    combo.setCurrentIndex(start + whole.index(chosen))
                else:
                    gone.append(f"round {chosen}")
                    if chosen in pruned:
                        self._pruned_choice[name] = chosen
            elif current in items:
                combo.setCurrentText(current)
            combo.blockSignals(False)
        for text in back:  # no longer "round N was pruned" beside what is shown
            self._note.pop(text, None)
        return gone

    def _sync_round_choices(self, rounds: list) -> None:
        """List the rounds the project has now (``rounds``, its records): rounds rolled back (or added)
        outside this window, by ``vessel-studio rounds --rollback`` or another window, left a chosen
        round that no longer exists (or was pruned: its maps deleted), and every image stepped to said "Cannot read predictions" in a dialog.
        The guard's marks follow the records too (a round rolled back and run again outside may be flagged now, or no
        longer); ``_flagged`` is theirs after this."""
        listed = [t for t in (self.show_round.itemText(i) for i in range(self.show_round.count()))
                  if round_of(t) is not None]
        flagged = flagged_rounds(rounds)
        if listed != [round_item(r.index, flagged) for r in rounds if r.pruned is None] or flagged != self._flagged:
            self._note_gone(self._fill_round_choices(rounds), rounds)

    def _note_gone(self, gone: list[str], rounds: list) -> None:
        """Say once beside what is shown why a chosen round (``gone``, from ``_fill_round_choices``) is no
        longer listed: pruned (its maps deleted) or rolled back (``rounds``: the project's records)."""
        if gone:
            pruned = {f"round {r.index}" for r in rounds if r.pruned is not None}
            self._note = {text: "pruned (its maps deleted; Adaptation: Make maps again)" if text in pruned
                          else "rolled back" for text in gone}

    def _choice_changed(self, _text: str) -> None:
        self._note = {}
        self._pruned_choice = {}  # the person's choice now: a pruned round's maps made again leave it as it is
        self._reload_maps(keep_edits=True)  # another map shown or compared: unsaved edits stay

    def _show_latest(self) -> None:
        """An adaptation has finished: Show its latest round (what the reviewer is to look at now). What
        was shown is kept as the comparison when that was the latest round (source-only vs latest
        becomes latest vs source-only); the labels list the new rounds."""
        self._pruned_choice = {}
        self._fill_round_choices()
        before = self.show_round.currentText()
        if before == LATEST:
            return
        swap = self.compare.currentText() == LATEST
        for combo, text in ((self.show_round, LATEST), (self.compare, before if swap else None)):
            if text is None:
                continue
            combo.blockSignals(True)
            combo.setCurrentText(text)
            combo.blockSignals(False)

    def _which(self, text: str):
        if text in (LATEST, ""):
            return None
        if text == tasks.SOURCE_ONLY:
            return tasks.SOURCE_ONLY
        index = round_of(text)
        return NONE if index is None else index

    def _which_maps(self) -> list:
        """The probability maps shown: the one on screen, then the compared one (if any)."""
        which = [self._which(self.show_round.currentText())]
        other = self._which(self.compare.currentText())
        return which + ([other] if other != NONE else [])

    def _resolve(self, shown, prob, rounds: list):
        """What Show's ``shown`` drew (``prob``): a round index, SOURCE_ONLY, or None (no map);
        ``rounds``: the project's round records, read once for the image shown."""
        return tasks.shown_map(self.studio.project, self.image_id, shown, prob, rounds)

    @staticmethod
    def _map_name(which) -> str:
        return "the source-only prediction" if which == tasks.SOURCE_ONLY else f"round {which}"

    def _show_what(self, shown, compared, other, rounds: list):
        """Say which map is on screen (the round "latest round" is), whether the label-free guard flagged its round
        (``_flagged``: ``_sync_round_choices`` took it from the same ``rounds``) and whether the compared one exists;
        return what the compared map is (as :meth:`_resolve`; None: nothing compared)."""
        records, rounds = rounds, [r.index for r in rounds]
        got = self._shown
        if got is None:
            if shown is None:
                text = "No prediction for this image yet: run an adaptation or <i>Segment with bundled model</i>."
            elif shown == tasks.SOURCE_ONLY:
                text = "No source-only prediction for this image: <i>Segment with bundled model</i> makes one."
            else:
                text = f"Round {shown} has no prediction for this image."
        else:
            text = f"Showing {self._map_name(got)}"
            if got == tasks.SOURCE_ONLY and shown is None and rounds:
                text += f" (round {rounds[-1]}, the latest, has none for this image)"
            elif rounds and got == rounds[-1]:
                text += ", the latest round"
            text += "."
            if got in self._flagged:  # "latest round" included: the person reviewing its masks is told (session 41)
                text += (f' <span style="color: #f0a030">⚠ The label-free guard flagged round {got} '
                         f"({flag_kinds(self._flagged[got])}): see "
                         "the Adaptation panel's warning.</span>")
        cgot = None
        if compared != NONE:
            cgot = self._resolve(compared, other, records)
            if cgot is None:
                missing = ("no source-only prediction" if compared == tasks.SOURCE_ONLY else
                           "no prediction from the latest round" if compared is None else
                           f"no prediction from round {compared}")
                text += f" Nothing to compare with: {missing} for this image."
            else:
                name = self._map_name(cgot) + (FLAGGED_MARK if cgot in self._flagged else "")
                if compared is None and cgot == tasks.SOURCE_ONLY and rounds:
                    name += f" (round {rounds[-1]}, the latest, has none for this image)"
                # e.g. no round yet: "latest round" is the source-only map, compared with itself
                text += f" Compared with {name}" + (": the same map." if cgot == got else ".")
        if self._note:
            text += " (" + "; ".join(f"{name} was {why}" for name, why in self._note.items()) + ".)"
        self._showing_text = text
        self._say_showing()
        return cgot

    def _say_showing(self) -> None:
        """The line of what is shown (``_show_what``'s), and with **Uncertainty map** ticked for an image with no
        prediction, that there is no uncertainty map for it either (the layer stays hidden: ``_unc_visible``)."""
        text = self._showing_text
        if self.image_id is not None and self.prob is None and self.show_unc.isChecked():
            text += (" No uncertainty map for this image: it is drawn from the prediction shown, and there is none to "
                     "draw it from.")
        self.showing.setText(text)

    def _previous(self, rounds: list):
        """The map before the one shown, for "agreement with": the round before a round (the latest earlier
        one that kept its maps; the source-only prediction before the first round); None for the source-only prediction, which has none."""
        return tasks.map_before(self._shown, rounds)

    def _show_stats(self, rounds: list, compared=(None, None), premade=None) -> None:
        """The label-free statistics of the map shown, with its agreement with the map before it
        (``compared``: (what the compared map is, as :meth:`_resolve`, and the map): that one when it
        is the map before, not read again; ``premade``: ``tasks.read_maps_for_review``'s ``"stats"``, computed in
        its worker, used when they are of the map shown, the same map before and field of view)."""
        if self.prob is None:
            self.stats.setText("no prediction shown")
        elif tasks.is_large(self.image):
            # a camera's 12-16 megapixels: the field of view (when not read ahead), the earlier map and the
            # statistics took 0.3-0.7 s of the GUI thread; a worker computes them, then the measures start
            self.stats.setText("computing…")
            self.measures.setText("")
            self._stats_reader.request(self.studio.project, self.image_id, self.prob, self._previous(rounds),
                                       self.image, self._fov)
            return
        else:
            proj = self.studio.project
            before = self._previous(rounds)
            if premade is not None and premade[0] is self.prob and premade[1] == before and premade[2] is self._fov:
                self._set_stats_text(premade[3], before)
                self._measure()
                return
            try:
                if before is None:
                    prev = None
                elif compared[0] == before and compared[1] is not None:
                    prev = compared[1]
                else:
                    prev = tasks.probability(proj, self.image_id, before)
            except ValueError:  # an unreadable earlier map: the statistics of the shown one still stand
                prev = None
            # inside the field of view, as the vessel measures: a fundus image's black border diluted them
            self._set_stats_text(tasks.label_free_stats(self.prob, self._fov, prev), before)
        self._measure()

    def _set_stats_text(self, s: dict, before) -> None:
        rows = [
            ("vessel fraction (p &ge; 0.5)", f"{s['vessel_fraction']:.3f}"),
            ("mean uncertainty 1−|2p−1|", f"{s['mean_uncertainty']:.3f}"),
            ("undecided pixels (0.2 &lt; p &lt; 0.8)", f"{s['undecided_fraction']:.3f}"),
        ]
        if "agreement_previous" in s:
            name = "source-only" if before == tasks.SOURCE_ONLY else f"round {before}"
            rows.append((f"agreement with {name} (Dice)", f"{s['agreement_previous']:.3f}"))
        self.stats.setText("<table>" + "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows) + "</table>")

    def _show_large_stats(self, image_id: str, got: dict) -> None:
        """A large image's statistics from the worker (:class:`.review_workers.StatsReader`): shown when
        that image and that map are still on screen; its field of view is kept for the vessel measures,
        which start now."""
        if image_id != self.image_id or got["prob"] is not self.prob:
            return
        if self._fov is None:
            self._fov = got["fov"]
        self._set_stats_text(got["stats"], got["before"])
        self._measure()

    def _show_stats_error(self, exc) -> None:
        self.stats.setText(f"statistics failed: {exc}")

    def _measure(self) -> None:
        """Vessel measures of the current mask, computed in a worker thread: one at a time, and only
        the latest image's (stepping through images must not queue a GIL-heavy measure per image), of the latest
        mask asked for (an older mask's, ending after a newer edit, is dropped: ``Measurer.drop_stale``). The
        measures shown stay, marked "updating…", until the new ones arrive."""
        self._measure_timer.stop()  # a measure of the edits still due is this one
        if "mask" not in self.viewer.layers or self.image_id is None:
            return
        proj, image_id, image = self.studio.project, self.image_id, self.image
        mask = self.viewer.layers["mask"].data > 0  # a copy: the layer's edits change its data in place
        if not mask.any():
            self._measurer.drop_pending()
            self._measured = None
            self.measures.setText("empty mask")
            return
        shown = self._measured
        if shown is not None and shown[0] == image_id:  # the mask's measures before its edits: kept until then
            self.measures.setText("<i>updating…</i>" + shown[1])
        else:
            self.measures.setText("measuring…")
        # the saved state (or the prediction) the mask is compared with for "unsaved edits", in the worker
        self._measurer.request(proj, image_id, mask, image, self._fov, self._baseline)

    def _measure_edits(self) -> None:
        """The mask was edited (a stroke, Undo / Redo, Erase piece, Remove specks) and the editing paused for
        ``MEASURE_EDITS_MS``: its measures again, in the worker. Not while a mouse button is held (a stroke paused
        mid-way, the brush held still): asked again after the next pause."""
        from qtpy.QtCore import Qt
        from qtpy.QtWidgets import QApplication

        if QApplication.mouseButtons() != Qt.MouseButton.NoButton:
            self._measure_timer.start()
            return
        self._measure()

    def _spacing_changed(self, image_id: str, m: dict) -> bool:
        """The image's pixel spacing is no longer the one measures ``m`` were measured with (set or cleared in the
        Project panel or a terminal meanwhile, session 47: ``Project.set_spacing``)."""
        proj = self.studio.project
        try:
            pair = proj.image(image_id).pixel_spacing if proj is not None else None
        except (KeyError, ValueError, OSError):  # the image or the manifest gone: the panel says so elsewhere
            return False
        return (m.get("spacing_row_mm"), m.get("spacing_col_mm")) != (tuple(pair) if pair else (None, None))

    def _show_measures(self, image_id: str, m: dict) -> None:
        if image_id != self.image_id:
            return
        if self._spacing_changed(image_id, m):  # measured while the spacing was being set: again, with the new one
            self._measure()
            return
        if not m["density"]:  # the mask lies outside the FOV only (an image's edge): cut away, nothing measured
            self.last_measures = m
            self._measured = None
            self.measures.setText("no vessel inside the field of view: the measures cover the field of view only, and "
                                  "this mask lies outside it")
            return
        um = m.get("calibre_mean_um") is not None
        rows = [("vessel density", f"{m['density']:.3f}")]
        if um:
            rows += [
                ("skeleton length", f"{m['skeleton_length_mm']:.1f} mm"),
                ("length density", f"{m['length_density_per_mm']:.2f} mm/mm²"),
                ("calibre mean / median", f"{m['calibre_mean_um']:.0f} / {m['calibre_median_um']:.0f} µm"),
            ]
        else:
            rows += [
                ("skeleton length", f"{m['skeleton_length_px']:.0f} px"),
                ("length density", f"{m['length_density_per_px']:.4f} px/px²"),
                ("calibre mean / median", f"{m['calibre_mean_px']:.1f} / {m['calibre_median_px']:.1f} px"),
            ]
        rows += [
            # NaN without a skeleton segment of 10 px or more (an empty mask, a few painted pixels): not "nan"
            ("tortuosity (arc/chord)", f"{m['tortuosity']:.3f}" if math.isfinite(m["tortuosity"])
             else "– (no segment of 10 px or more)"),
            ("segments / branch points", f"{m['n_segments']} / {m['n_branch_points']}"),
        ]
        self.last_measures = m
        table = "<table>" + "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows) + "</table>"
        self._measured = (image_id, table)
        # of the mask on screen, which is not the one saved (or the prediction) while it has unsaved edits
        note = "<i>of the unsaved mask (your edits, not saved yet)</i>" if m.get("unsaved_edits") else ""
        self.measures.setText(note + table)

    def _show_measures_error(self, exc) -> None:
        self.measures.setText(f"measures failed: {exc}")
