"""Changes made outside the window (a mixin of :class:`.studio.Studio`, session 30).

Another program or window changes the open project (a terminal's ``vessel-studio adapt``, ``images --remove``,
``rounds --rollback`` / ``--prune``): the studio stats the manifest every ``studio.WATCH_MS``, compares what its
panels show of it (images, states, rounds, source record) with what it last told them, and on the second look
that sees the same difference tells them as its own changes do (``project_changed`` / ``images_changed``), forgets
images taken out and says what changed in the status bar. Each look also probes the project's job lock: a job
of another process holding it (``outside_job``, session 38) is told by ``outside_job_changed``. GUI thread only.
"""

from __future__ import annotations

import json

from vessel_studio.gui import dialogs
from vessel_studio.gui.jobs import JobOutcome
from vessel_studio.wording import shown_names


class WatchMixin:
    """Needs the studio's ``project``, ``current_id``, ``panels``, ``runner``, ``io_runner``, ``busy_checks``,
    ``forget_hooks``, its signals, ``_viewer``, ``_watch`` (the timer), ``_known``, ``_pending``, ``_unreadable``,
    ``_idle_key``, ``_following`` and ``select_image``."""

    @staticmethod
    def _summary(project) -> dict:
        """What the panels show of the manifest: the images (name, state, pixel spacing), the rounds (pruned or not,
        and what else their records say) and the source record. Raises OSError / ValueError when the manifest cannot
        be read. One read of it (``project.manifest`` copies it once), parsed as ``project.images`` / ``rounds``
        parse it.

        A round is ``(pruned, record)``: ``record`` its manifest record but for the prune's fields, as canonical
        JSON (a NaN metric is the same string on every read, where NaN != NaN would make every look a change).
        Before session 47 a round was its number only, so a round rolled back and run again elsewhere while the
        watcher did not look (this window's job or writes running, a question open: minutes) was not seen: the
        panels kept the maps of the round that was gone."""
        from vessel_studio.store.manifest import ImageRecord, RoundRecord

        d = project.manifest()
        rounds = {}
        for r in map(RoundRecord.from_dict, d["rounds"]):
            rec = {k: v for k, v in r.to_dict().items() if k not in ("pruned", "pruned_images")}
            rounds[r.index] = (r.pruned is not None, json.dumps(rec, sort_keys=True, default=str))
        # the pixel spacing too (session 47: ``images --set-spacing`` elsewhere changes the Review title and measures)
        return {"images": {r.id: (r.name, r.state, r.pixel_spacing) for r in map(ImageRecord.from_dict, d["images"])},
                "rounds": rounds, "source": d.get("source")}

    def _remember(self) -> None:
        """Every ``project_changed`` / ``images_changed`` (this window's own changes, told to its panels):
        remember what the manifest says now, so that the watcher reports only what others changed."""
        proj = self.project
        self._pending = None
        self._idle_key = None
        if proj is None:
            self._known = None
            self._watch.stop()
            self._set_outside_job(None)
            return
        try:
            self._known = (proj, self._summary(proj))
        except (OSError, ValueError):
            self._known = (proj, None)
        if not self._watch.isActive():
            self._watch.start()

    def _look_outside(self) -> None:
        """The timer (every ``WATCH_MS``): follow what another program or window changed in the open
        project: images added or removed (``vessel-studio images``), states (corrections saved
        elsewhere), rounds added, rolled back or pruned (``vessel-studio adapt`` / ``rounds``). Before,
        the panels showed the project as this window last left it until it was opened again (rounds rolled
        back were followed only when an image was stepped to). Not while this window's own job or writes
        run (their changes reach the panels by their own signals); a change is acted on when two looks in a
        row see it, so one this window made and is about to tell its panels is not taken for another's."""
        proj = self.project
        if self._viewer() is None:  # the window is gone (the studio outlived it): nothing to tell
            self._watch.stop()
            return
        if proj is None or self._known is None or self._known[0] is not proj:
            return
        self._look_job(proj)
        try:  # one stat (and the lock probe above) a look while nothing changes: the manifest is read again only
            # when its file changed
            st = proj.manifest_path.stat()
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if key is not None and key == self._idle_key:
            return
        if (self.runner.running or self.io_runner.running or any(busy() for busy in list(self.busy_checks))
                or dialogs.question_open()):  # its answer applies to what it named: nothing changes under it
            self._pending = None
            return
        try:
            now = self._summary(proj)
        except (OSError, ValueError) as exc:
            if self._unreadable != str(exc):  # said once, not every second
                self._unreadable = str(exc)
                self.status.emit(f"cannot read the project's manifest: {exc}")
            return
        self._unreadable = None
        known = self._known[1]
        if now == known:
            self._pending = None
            self._idle_key = key  # nothing to tell while the file stays as it is
            self._saved_elsewhere()  # the manifest was rewritten: perhaps by another window's second Save
            return
        if now != self._pending:
            self._pending = now
            return
        if known is None:  # the manifest could not be read when the panels were last told (``_remember``): tell
            # them again what it says now, without claiming that every image and round was added elsewhere
            self._tell_outside(self.project_changed)
            self.images_changed.emit()
            self.status.emit("the project's manifest can be read again: the panels show what it says now")
            return
        self._outside_changed(known, now)

    def _look_job(self, proj) -> None:
        """Each look: whether another process's job holds the project (a lock probe, no read while it stays as it
        was). Its start and end change no file the watcher compares (a ``kill -9`` changes nothing at all): before
        session 38 the window did not know of a terminal's job until a round of it arrived, so Discard saved mask
        stayed enabled during its round (which trains on the mask) and a job killed mid-round was not offered for
        resuming until the project was opened again."""
        try:
            holder = proj.job_elsewhere()
        except OSError:
            holder = None
        self._set_outside_job(holder)

    def _set_outside_job(self, holder: str | None) -> None:
        if holder != self.outside_job:
            self.outside_job = holder
            self.outside_job_changed.emit()

    def _tell_outside(self, signal) -> None:
        """Emit ``signal`` for a change another program made, with ``outside_change`` True meanwhile: a panel may then
        read what changed in a worker (the Review panel, a round a terminal's ``adapt`` added: session 37, it stalled
        the window while the GUI thread read it), where this window's own changes are followed at once (but its roll
        back: :meth:`rounds_changed_here`)."""
        self.outside_change = True
        try:
            signal.emit()
        finally:
            self.outside_change = False

    def rounds_changed_here(self) -> None:
        """This window changed the open project's rounds (its Roll back): the panels are told (``project_changed``, then
        ``images_changed``) with ``outside_change`` True, as of a change another program made, so that the Review panel
        reads the image on screen's maps and mask again in a worker (session 44: at 15 megapixels a roll back froze the
        window for 1.3 s while the GUI thread read them)."""
        self._tell_outside(self.project_changed)
        self.images_changed.emit()

    def images_changed_here(self) -> None:
        """This window changed images or their states only (a correction saved, accepted or discarded, images
        removed): the panels are told ``images_changed``, and the studio then takes the manifest as told
        (``_remember``). Rounds or the source another program changed meanwhile and the watcher had not told yet (it
        looks at nothing while a question is open or a large mask is written, and acts on a change at its second
        look) are told first, as the watcher tells them (its ``images_changed`` included); the caller's own status
        line comes after, and the status bar keeps it (a save's note on which rounds train on the mask). Session 47 QA:
        round 1 rolled back and run again in a terminal while "Unsaved correction" was open, answered Save: that save's
        ``images_changed`` took the new round as told, nothing was said, and the Adaptation panel kept the gone
        round's signals and form (rounds added meanwhile were missed the same way). While a question is open (a
        large mask's save landing from its worker then) nothing changes under it: the panels are told the images
        only, and the watcher tells the rounds once it is closed."""
        missed = self._rounds_changed_meanwhile()
        if missed is None:
            self.images_changed.emit()
        elif dialogs.question_open():
            told = missed[0]
            self.images_changed.emit()  # (``_remember``: the manifest as it is now)
            proj, now = self._known
            if now is not None:  # the rounds and source as the panels were told them: the watcher sees the change
                self._known = (proj, {**now, "rounds": told["rounds"], "source": told["source"]})
        else:
            self._outside_changed(*missed)

    def _saved_elsewhere(self) -> None:
        """The saved correction of the image on screen replaced by another window while its state stayed (a second
        Save there: "corrected" again): the Review panel follows it (``ReviewPanel.saved_elsewhere``); the
        states the watcher compares did not say it (session 32 QA, two windows)."""
        review = self.panels.get("Review")
        if review is not None:
            review.saved_elsewhere()

    def _rounds_changed_meanwhile(self, outcome: JobOutcome | None = None) -> tuple[dict, dict] | None:
        """At the end of this window's job that leaves the rounds alone (an export, a segmentation, adding
        images, an adaptation refused because another process holds the project): the rounds or source another
        program changed while it ran (the watcher waits for this window's jobs), as ``(known, now)`` for
        ``_outside_changed``; else None. The job's end tells the panels ``images_changed`` only, and the
        studio then takes the manifest as told (``_remember``): before, those rounds never reached the
        Adaptation panel's plot nor the map on screen (a round rolled back stayed shown as the latest)."""
        from vessel_studio.gui import tasks
        from vessel_studio.store.project import ProjectBusyError

        proj = self.project
        if outcome is not None and outcome.name in ("Adaptation", tasks.RESTORE_MAPS, tasks.FREE_DISK,
                                                    tasks.ROLL_BACK) and not (
                outcome.status == "error" and isinstance(outcome.error, ProjectBusyError)):
            return None  # it changed the rounds itself (its panel follows them), or may have
        if proj is None or self._known is None or self._known[0] is not proj or self._known[1] is None:
            return None
        try:
            now = self._summary(proj)
        except (OSError, ValueError):
            return None
        known = self._known[1]
        if now["rounds"] == known["rounds"] and now["source"] == known["source"]:
            return None
        return {**known, "images": now["images"]}, now  # the images: what the job itself did is told as before

    def _outside_changed(self, known: dict, now: dict) -> None:
        """Tell the panels of a change another program made (``_look_outside``), as this window's own
        changes of the same kind do: rounds (or the source) changed: ``project_changed`` (as a roll back
        here); images: ``images_changed``. Images taken out that this window holds are forgotten (their
        files are gone: unsaved edits of them can no longer be kept in the project) and the image on
        screen, if it went, is followed by the next one."""
        before, after = known["images"], now["images"]
        added_ids = [i for i in after if i not in before]  # in the project's order
        added = [after[i][0] for i in added_ids]
        gone = {i for i in before if i not in after}
        rounds_added = sorted(set(now["rounds"]) - set(known["rounds"]))
        rounds_gone = sorted(set(known["rounds"]) - set(now["rounds"]))
        kept = [i for i in sorted(now["rounds"]) if i in known["rounds"]]
        # the same number, another round: rolled back and run again (or its record rewritten) while not looked at
        remade = [i for i in kept if now["rounds"][i][1] != known["rounds"][i][1]]
        restated_ids = {i for i in after if i in before and after[i][1] != before[i][1]}
        # the states a new round sets (new -> predicted) go without saying
        restated = [] if rounds_added or remade else [after[i][0] for i in restated_ids]
        respaced = [after[i][0] for i in after if i in before and after[i][2] != before[i][2]]
        pruned = [i for i in kept if now["rounds"][i][0] and not known["rounds"][i][0] and i not in remade]
        restored = [i for i in kept if known["rounds"][i][0] and not now["rounds"][i][0] and i not in remade]
        said = []
        for what, items in (("round(s) added", rounds_added), ("round(s) rolled back", rounds_gone),
                            ("round(s) run again", remade), ("round(s) pruned", pruned),
                            ("round(s) with their maps made again", restored)):
            if items:
                said.append(f"{what}: {', '.join(map(str, items))}")
        for what, names in (("image(s) added", added), ("image(s) taken out", [before[i][0] for i in gone]),
                            ("state changed", restated), ("pixel spacing changed", respaced)):
            if names:
                said.append(f"{what}: {shown_names(sorted(names), 5)}")
        if now["source"] != known["source"] and not rounds_added and not rounds_gone and not remade:
            said.append("source record changed")
        following = None
        review = self.panels.get("Review")
        # edits of them this window had not saved: they go with the image (its files are gone), said aloud below
        lost = [before[i][0] for i in review.unsaved_among(gone)] if gone and review is not None else []
        if lost:
            said.append(f"your unsaved edits of {', '.join(sorted(lost))} went with the image(s)")
        if gone:
            for hook in list(self.forget_hooks):
                hook(gone)
            if self.current_id in gone:  # the image after it (else before it) that stays, in the order stepped in
                # its queue ("most uncertain first"), else the project's order
                queue = [i for i in (getattr(review, "order", None) or []) if i in before]
                queued = set(queue)
                following = self._following(self.current_id, queue + [i for i in before if i not in queued], after)
                self.current_id = None
        rounds_changed = now["rounds"] != known["rounds"] or now["source"] != known["source"]
        if rounds_changed:
            # the Review panel reads the image on screen's maps and mask again, in a worker (``outside_change``)
            self._tell_outside(self.project_changed)
        self.images_changed.emit()
        self.status.emit("the project was changed outside this window: " + "; ".join(said or ["manifest rewritten"]))
        on_screen = self.current_id
        if following is not None:
            self.select_image(following)
        elif on_screen is None and added_ids:  # nothing shown (every image had gone): the first added, as an Add here
            self.select_image(added_ids[0])
        elif not rounds_changed and on_screen in restated_ids and review is not None:
            # its correction saved, accepted or discarded elsewhere (another window): the mask on screen follows
            review.changed_elsewhere(on_screen)
        elif not rounds_changed:
            self._saved_elsewhere()
        if lost:  # a person's work gone: not only a line in the status bar (asked last: its event loop runs)
            dialogs.info(self._parent_widget(), "Unsaved edits lost",
                         f"Another program or window took {', '.join(sorted(lost))} out of the project "
                         "(`vessel-studio images --remove --force`, or Remove from project). The edits made here "
                         "and not yet saved went with the image: its files are gone from the project, so they "
                         "cannot be kept in it.")

    def _unreadable_now(self) -> str | None:
        """Why the open project's manifest cannot be read now (its folder renamed or deleted, the manifest
        broken by another program), else None. Then the panels are not told (each raised reading it: the
        Project list, Review's rounds, the source line, the Adaptation panel's rounds; QA, session 30) and the
        studio takes the manifest as unread: the watcher tells them once it can be read again."""
        proj = self.project
        if proj is None:
            return None
        try:
            proj.manifest()
        except (OSError, ValueError) as exc:
            self._known, self._pending, self._unreadable = (proj, None), None, str(exc)
            return (f"cannot read the project's manifest: {exc} (the panels follow once it can be read "
                    "again)")
        return None
