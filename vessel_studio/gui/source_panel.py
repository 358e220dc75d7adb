"""The Adaptation panel's "Labelled source images": the lab's own labelled source images and masks.

Without them the adaptation starts from the bundled generator's procedural vessel masks (an empty
:class:`~vessel_studio.adaptation.SourceBundle`). Folders are paired by
``SourceBundle.from_folders`` (``io.datasets.discover``: the folders listed and every file looked at) and the first
pair's masks read (``masks_mixed_up``) in a worker thread: a folder of 1,000 pairs took 0.57 s of the GUI thread,
more on a network drive (session 44). Its result is used when it arrives unless the source changed or another
folder was chosen meanwhile (then it is dropped); a folder that does not pair leaves the previous choice in place.
While it runs the box says so and Run waits for it (an error dialog "Busy").

When a project opens whose rounds were adapted from labelled source images, the folders its
manifest records are paired again (``SourceBundle.from_record``: file names and the models'
hashes) and, when they pair the same images, become the studio's source ("restored from the
project"); when they do not, the box says which folder and what is wrong and the source stays as
it was (no dialog). That runs in a worker thread too: on the GUI thread it froze the window for
0.67 s when the project was adapted from 1,000 pairs (session 45, benchmarks/gui_stalls.py). While
it runs the box says "Restoring …" and Run waits for it ("Busy"); its result is dropped when
another project was opened, a source set or other images chosen meanwhile.

The FOV masks folder ("FOV masks…", optional) is paired with the images as ``adapt --source-fovs``
is. The source models ("Segmenter…", "Generator…", "Bundled") are checked from their config.json
alone (``adaptation.source_models.check_source_models``, the rule ``adapt`` applies to
``--source-segmenter`` / ``--source-generator``; no weights are loaded, so it runs on the GUI thread):
a folder that is not a model folder, a model of the other kind, a generator without a mask channel
for procedural masks, or two models of different modalities is an error dialog naming the folder,
and the previous choice stays. The source modality follows the models' config.json when it records one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qtpy.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from vessel_studio.gui import dialogs


class SourceChooser(QGroupBox):
    """Sets ``studio.source_bundle``: "Choose images…", "Choose masks…", "FOV masks…" (paired by
    name), "Clear", and the source models ("Segmenter…", "Generator…", "Bundled")."""

    def __init__(self, studio, parent=None):
        super().__init__("Labelled source images", parent)
        self.studio = studio
        #: the folders of the labelled images in use, and an images folder still waiting for its masks
        self.images_dir: Path | None = None
        self.masks_dir: Path | None = None
        self.pending_images: Path | None = None
        #: the FOV masks folder in use (optional), and one chosen for the images still waiting for masks
        self.fovs_dir: Path | None = None
        self.pending_fovs: Path | None = None
        #: a source model chosen whose modality is not that of the other model in use: (role, folder,
        #: modality), waiting for a partner of its modality (the models in use stay until then)
        self.pending_model: tuple[str, str, str] | None = None
        #: the project last opened, the bundle restored from its manifest (while still in use) and,
        #: when its recorded source could not be restored, why
        self._project = None
        self.restored = None
        self._restored_from: Path | None = None
        self.not_restored: str = ""

        self.btn_images = QPushButton("Choose images…")
        self.btn_images.setToolTip("Choose the folder of the lab's labelled source images (e.g. fundus photographs)")
        self.btn_masks = QPushButton("Choose masks…")
        self.btn_masks.setToolTip("Choose the folder of their vessel masks (paired with the images by file name)")
        self.btn_fovs = QPushButton("FOV masks…")
        self.btn_fovs.setToolTip("Optional: the folder of their FOV masks (paired by file name, as adapt "
                                 "--source-fovs); without, the FOV is estimated from each image. Choosing the "
                                 "images again drops it")
        self.btn_clear = QPushButton("Clear")
        self.btn_clear.setToolTip("Forget the labelled images: adapt from procedural vessel masks rendered by the "
                                  "source generator")
        self.btn_segmenter = QPushButton("Segmenter…")
        self.btn_segmenter.setToolTip("Choose the source segmenter's model folder (made by vessel-studio "
                                      "train-segmenter); default: the bundled fundus-segmenter")
        self.btn_generator = QPushButton("Generator…")
        self.btn_generator.setToolTip("Choose the source generator's model folder (made by vessel-studio "
                                      "train-generator; --masks for procedural masks); default: the bundled "
                                      "fundus-generator")
        self.btn_bundled = QPushButton("Bundled")
        self.btn_bundled.setToolTip("Use the bundled fundus-segmenter and fundus-generator again")
        self.models_label = QLabel("")
        self.models_label.setWordWrap(True)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        #: the chosen source differs from the one the project's rounds were adapted from
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #f0a030")
        for label in (self.models_label, self.label, self.warning):  # a crowded dock squeezed their lines away
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        row = QHBoxLayout()
        row.addWidget(self.btn_images)
        row.addWidget(self.btn_masks)
        row.addWidget(self.btn_fovs)
        row.addWidget(self.btn_clear)
        models = QHBoxLayout()
        models.addWidget(QLabel("Source models:"))
        models.addWidget(self.btn_segmenter)
        models.addWidget(self.btn_generator)
        models.addWidget(self.btn_bundled)
        models.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addLayout(models)
        lay.addWidget(self.label)
        lay.addWidget(self.models_label)
        lay.addWidget(self.warning)

        self.btn_images.clicked.connect(self.choose_images)
        self.btn_masks.clicked.connect(self.choose_masks)
        self.btn_fovs.clicked.connect(self.choose_fovs)
        self.btn_segmenter.clicked.connect(self.choose_segmenter)
        self.btn_generator.clicked.connect(self.choose_generator)
        self.btn_bundled.clicked.connect(self.use_bundled_models)
        self.btn_clear.clicked.connect(self.clear)
        studio.source_changed.connect(self._source_changed)
        studio.project_changed.connect(self._project_changed)
        studio.runner.finished.connect(self._job_finished)  # a bound slot: disconnected with the widget
        self._project_changed()

    # --- choosing --------------------------------------------------------------------------

    def choose_images(self) -> bool:
        """The images folder: remembered until its masks folder is chosen (the source in use stays
        until then: another set's images are never paired with the previous set's masks)."""
        folder = dialogs.pick_folder(self, "Labelled source images: choose the folder of the images")
        if not folder:
            return False
        self.pending_images, self.pending_fovs = Path(folder), None
        self._pairing = None  # the folders being paired, if any, are not the ones chosen now
        self._drop_restore(f"source images {folder} chosen")
        self.refresh()
        return True

    def choose_masks(self) -> bool:
        """The vessel masks folder of the chosen images folder: paired now (an error dialog names what
        does not pair, and the previous choice stays)."""
        folder = self._pick_for_images("vessel masks")
        if folder is None:
            return False
        fovs = self.pending_fovs if self.pending_images is not None else self.fovs_dir
        return self._pair(self.pending_images or self.images_dir, folder, fovs)

    def choose_fovs(self) -> bool:
        """The FOV masks folder of the chosen images (optional): paired with the images in use now
        (an error dialog names what does not pair, and the previous choice stays), or kept for the
        images still waiting for their masks folder."""
        folder = self._pick_for_images("FOV masks")
        if folder is None:
            return False
        if self.pending_images is not None:
            self.pending_fovs = folder
            self.refresh()
            return True
        return self._pair(self.images_dir, self.masks_dir, folder)

    def _pick_for_images(self, what: str) -> Path | None:
        """A folder of the chosen images' ``what`` (their vessel masks, FOV masks); None when no images
        folder is chosen yet (an error dialog says so) or the folder dialog is cancelled."""
        images = self.pending_images or self.images_dir
        if images is None:
            dialogs.error(self, "No source images", "Choose the folder of the labelled source images first.")
            return None
        folder = dialogs.pick_folder(self, f"Labelled source images: choose the {what} of {images}")
        return Path(folder) if folder else None

    #: the pairing running in its worker: (its number, images, masks, FOV masks); None when none runs or its result
    #: is no longer wanted (a source set, or other folders chosen, since it began)
    _pairing: tuple | None = None
    _pairings = 0

    @property
    def pairing(self) -> bool:
        """Whether folders are being paired (in a worker) for the box."""
        return self._pairing is not None

    def _source_changed(self) -> None:
        """The studio's source was set (here or elsewhere): a pairing begun before it is stale."""
        if self._pairing is not None:
            self.studio.status.emit(f"adaptation source changed while {self._pairing[1]} was being paired: "
                                    "those images are not used")
            self._pairing = None
        self._drop_restore("adaptation source changed")
        self.refresh()

    def _pair(self, images: Path, masks: Path, fovs: Path | None = None) -> bool:
        """``SourceBundle.from_folders(images, masks, fovs=fovs)`` with the bundle's models, and
        ``masks_mixed_up`` of it, in a worker thread (:meth:`_paired` takes the result on the GUI thread: on success
        the studio adapts from it). True: the pairing was started."""
        current = self.studio.source_bundle
        models = {} if current is None else {
            "segmenter": current.segmenter, "generator": current.generator, "modality": current.modality}
        self._pairings += 1
        key = (self._pairings, images, masks, fovs)
        self._pairing = key

        def work():
            from vessel_studio.adaptation.job import SourceBundle
            from vessel_studio.adaptation.source import masks_mixed_up
            from vessel_studio.gui.jobs import background_priority

            background_priority()
            try:
                bundle = SourceBundle.from_folders(images, masks, fovs=fovs, **models)
            except (ValueError, OSError) as exc:
                return "error", exc
            return "paired", bundle, masks_mixed_up(bundle)

        self._in_worker(work, key, self._paired)  # the box says "pairing …"
        return True

    def _in_worker(self, work, key: tuple, done) -> None:
        """Run ``work()`` in a worker thread; its value, or ``("error", exc)`` when it raised, goes to ``done(key,
        value)`` on the GUI thread (``_paired``, ``_restored``: they drop a result whose ``key`` is no longer the one
        wanted). The box is refreshed first, to say what runs."""
        from vessel_studio.gui.jobs import start_keyed

        self.refresh()
        start_keyed(work, key, done, self.studio.workers)

    def _paired(self, key: tuple, value: tuple) -> None:
        """A pairing's result, on the GUI thread: dropped when it is not the one wanted now (the source changed, or
        other folders were chosen, meanwhile); else the error dialog, or the bundle used with its status line and
        the "Check the source masks" message."""
        try:
            if key != self._pairing:
                return
            self._pairing = None
            _n, images, masks, fovs = key
            current = self.studio.source_bundle
            if value[0] == "error":
                dialogs.error(self, "Cannot use these source images",
                              f"{value[1]}\n\nThe adaptation keeps using {self._describe(current)}.")
                self.refresh()
                return
            _status, bundle, mixed = value
            self.images_dir, self.masks_dir, self.pending_images = images, masks, None
            self.fovs_dir, self.pending_fovs = bundle.fovs_folder, None
            self.not_restored = ""
            self.studio.source_bundle = bundle  # refreshes through source_changed
            fov_text = "" if fovs is None else f" (FOV masks {fovs})"
            self.studio.status.emit(f"adaptation source: {len(bundle.images)} labelled images from {images}{fov_text}")
            if mixed:  # used as chosen: the person decides
                dialogs.info(self, "Check the source masks", "\n\n".join(mixed)
                             + "\n\nIf so, choose the folders again (Choose masks…, FOV masks…).")
        except RuntimeError:  # the box was closed while its worker paired the folders
            pass

    # --- the source models ---------------------------------------------------------------------

    def choose_segmenter(self) -> bool:
        """The source segmenter's model folder (checked with the generator in use)."""
        return self._pick_model("segmenter")

    def choose_generator(self) -> bool:
        """The source generator's model folder (checked with the segmenter in use)."""
        return self._pick_model("generator")

    def _pick_model(self, role: str) -> bool:
        folder = dialogs.pick_folder(self, f"Source models: choose the source {role}'s model folder")
        if not folder:
            return False
        return self._choose_model(role, str(Path(folder).absolute()))

    def _choose_model(self, role: str, folder: str) -> bool:
        """``folder`` as the source ``role`` with the other model in use (or the one waiting for it).
        When the only problem is that the two record different modalities and the other one is the
        model in use, the new one waits for a partner of its modality (switching both models one at
        a time); two chosen models of different modalities are an error."""
        from vessel_studio.adaptation.source_models import ModalityMismatchError, read_source_model

        current = self.studio.source_bundle
        other = "generator" if role == "segmenter" else "segmenter"
        waiting = self.pending_model if self.pending_model is not None and self.pending_model[0] == other else None
        partner = waiting[1] if waiting else (f"fundus-{other}" if current is None else getattr(current, other))
        models = {role: folder, other: partner}
        try:
            return self._use_models(models["segmenter"], models["generator"], changed=f"{role} {folder}",
                                    mismatch_error=waiting is not None)
        except ModalityMismatchError:
            self.pending_model = (role, folder, read_source_model(folder, role).modality)
            self._drop_restore(f"source {role} {folder} chosen")
            self.refresh()
            self.studio.status.emit(f"source {role} {folder} is for {self.pending_model[2]} images: now choose the "
                                    f"{other} of that modality")
            return False

    def use_bundled_models(self) -> bool:
        """The bundled fundus-segmenter and fundus-generator again (the labelled images stay)."""
        from vessel_studio.resources import DEFAULT_GENERATOR, DEFAULT_SEGMENTER

        return self._use_models(DEFAULT_SEGMENTER, DEFAULT_GENERATOR, changed="the bundled models")

    def _use_models(self, segmenter, generator, *, changed: str, mismatch_error: bool = True) -> bool:
        """Use these source models when ``check_source_models`` passes (the modality follows theirs);
        else an error dialog naming the folder and the problem, and the bundle stays as it was
        (``mismatch_error=False``: a modality mismatch is raised to the caller instead)."""
        from vessel_studio.adaptation.job import SourceBundle
        from vessel_studio.adaptation.source_models import ModalityMismatchError, check_source_models

        current = self.studio.source_bundle
        base = current if current is not None else SourceBundle()
        try:
            modality = check_source_models(segmenter, generator, procedural=not base.images)
        except ModalityMismatchError as exc:
            if not mismatch_error:
                raise
            self._model_error(exc, current)
            return False
        except (ValueError, OSError) as exc:
            self._model_error(exc, current)
            return False
        bundle = dataclasses.replace(base, segmenter=segmenter, generator=generator,
                                     modality=modality or base.modality)
        self.pending_model = None
        self.studio.source_bundle = None if self._is_default(bundle) else bundle  # refreshes
        self.studio.status.emit(f"adaptation source models: {changed}")
        return True

    def _model_error(self, exc: BaseException, current) -> None:
        dialogs.error(self, "Cannot use this source model",
                      f"{exc}\n\nThe adaptation keeps using {self._describe(current)}.")

    @staticmethod
    def _is_default(bundle) -> bool:
        """The engine's default source: the bundled models with procedural vessel masks."""
        from vessel_studio.resources import DEFAULT_GENERATOR, DEFAULT_SEGMENTER

        return (not bundle.images and str(bundle.segmenter) == DEFAULT_SEGMENTER
                and str(bundle.generator) == DEFAULT_GENERATOR and bundle.modality == "fundus")

    @staticmethod
    def _describe(bundle) -> str:
        from vessel_studio.gui.source_text import describe_bundle

        return describe_bundle(bundle)

    def clear(self) -> bool:
        """Back to procedural vessel masks (the bundle's models are kept; a generator without a mask
        channel cannot render them: an error dialog, and the labelled images stay)."""
        from vessel_studio.adaptation.source_models import check_source_models

        current = self.studio.source_bundle
        if current is not None and current.images:
            try:
                check_source_models(current.segmenter, current.generator, procedural=True)
            except (ValueError, OSError) as exc:
                dialogs.error(self, "Cannot use procedural vessel masks",
                              f"{exc}\n\nThe adaptation keeps using {self._describe(current)}.")
                return False
        self.images_dir = self.masks_dir = self.pending_images = None
        self.fovs_dir = self.pending_fovs = None
        self.not_restored = ""
        if current is None or self._is_default(dataclasses.replace(current, images=[])):
            self.studio.source_bundle = None
        else:
            self.studio.source_bundle = dataclasses.replace(current, images=[], images_folder=None,
                                                            masks_folder=None, fovs_folder=None)
        self.studio.status.emit("adaptation source: procedural vessel masks")
        return True

    # --- the project's recorded source ---------------------------------------------------------

    def _project_changed(self) -> None:
        """A project was opened (another Project than before): restore its recorded labelled source.
        Other ``project_changed`` signals (e.g. after a rollback) only refresh."""
        if self.studio.project is not self._project:
            self._project = self.studio.project
            self.not_restored = ""
            self.restore_recorded()
        self.refresh()

    #: the restore running in its worker: (its number, the project, the record); None when none runs or its result is
    #: no longer wanted (another project opened, or a source set or other images chosen, since it began)
    _restoring: tuple | None = None
    _restorings = 0

    @property
    def restoring(self) -> bool:
        """Whether the open project's recorded source is being paired again (in a worker) for the box."""
        return self._restoring is not None

    def _drop_restore(self, why: str) -> None:
        """A restore running is no longer wanted (``why``: what overtook it): its result will be dropped."""
        if self._restoring is not None:
            self.studio.status.emit(f"{why} while the source of this project's rounds was being restored: it is "
                                    "not restored")
            self._restoring = None

    def restore_recorded(self) -> bool:
        """When the open project's rounds were adapted from labelled source images, or from procedural
        masks with the lab's own source models, that are not the source in use: pair the recorded
        folders again (check the models' hashes) in a worker thread, and use them if they are as
        recorded (:meth:`_restored`); else say why in ``not_restored`` (shown in the box) and keep the
        source in use. True: the restore was started."""
        from vessel_studio.gui.source_text import is_labelled, same_source

        self._restoring = None  # one begun for a project before is not wanted now
        proj, record = self.studio.project, self.studio.recorded_source()
        if proj is None or not proj.rounds or not record:
            return False
        identity = self.studio.source_identity()  # cached per bundle (the box's refresh needs it anyway)
        if identity is not None and same_source(record, identity):
            return False  # already in use (chosen by hand, or restored when the project was opened before)
        labelled = is_labelled(record)
        self._restorings += 1
        key = (self._restorings, proj, record)
        self._restoring = key
        bundled_procedural = self._bundled_procedural

        def work():
            from vessel_studio.adaptation.job import SourceBundle
            from vessel_studio.gui.jobs import background_priority

            background_priority()
            if not labelled and bundled_procedural(record):
                return ("default",)  # the default source: nothing of the lab's to restore
            try:
                bundle = SourceBundle.from_record(record)
            except (ValueError, OSError) as exc:
                return ("error", exc)
            try:  # the studio's identity of it, made here: the box's refresh would hash the models again
                ident = bundle.identity()
            except (ValueError, OSError):
                ident = None
            return ("restored", bundle, ident)

        self._in_worker(work, key, self._restored)  # the box says "Restoring …"
        return True

    def _restored(self, key: tuple, value: tuple) -> None:
        """A restore's result, on the GUI thread: dropped when it is not the one wanted now (another project
        opened, or a source set or other images chosen, meanwhile); else the reason it was not restored in the box,
        or the bundle used ("restored from the project") with its status line."""
        try:
            if key != self._restoring:
                return
            self._restoring = None
            _n, proj, _record = key
            if value[0] == "default":
                self.refresh()
                return
            if value[0] == "error":
                self.not_restored = str(value[1])
                self.refresh()
                return
            _status, bundle, ident = value
            self.images_dir, self.masks_dir, self.pending_images = bundle.images_folder, bundle.masks_folder, None
            self.fovs_dir, self.pending_fovs, self.pending_model = bundle.fovs_folder, None, None
            self.restored, self._restored_from = bundle, proj.folder
            if ident is not None:
                self.studio.prime_source_identity(bundle, ident)
            self.studio.source_bundle = bundle  # refreshes through source_changed
            what = (f"{len(bundle.images)} labelled images from {bundle.images_folder}" if bundle.images
                    else f"procedural vessel masks with {self._describe(bundle)}")
            self.studio.status.emit(f"adaptation source restored from the project: {what}")
        except RuntimeError:  # the box was closed while its worker paired the folders
            pass

    @staticmethod
    def _bundled_procedural(record) -> bool:
        """Whether a procedural source record is of the bundled models (their weights' hashes)."""
        from vessel_studio.adaptation.job import SourceBundle
        from vessel_studio.gui.source_text import same_source

        try:
            bundled = SourceBundle(modality=record.get("modality") or "fundus").identity()
        except (OSError, ValueError):
            return False
        return same_source(record, bundled)

    @staticmethod
    def _restoring_text(record) -> str:
        """The box's line while the project's recorded source is restored (:meth:`restore_recorded`)."""
        from vessel_studio.gui.source_text import describe_record

        folders = record.get("folders") if isinstance(record.get("folders"), dict) else {}
        if folders.get("images") and folders.get("masks"):
            return (f"Restoring the source of this project's rounds: pairing {folders['images']} with "
                    f"{folders['masks']} again…")
        return f"Restoring the source of this project's rounds ({describe_record(record)})…"

    def _job_finished(self, _outcome) -> None:
        self.refresh()  # rounds committed: the warning about a changed source follows

    # --- display ---------------------------------------------------------------------------

    def refresh(self) -> None:
        bundle = self.studio.source_bundle
        labelled = bool(bundle is not None and bundle.images)
        if not labelled:  # e.g. the bundle was replaced from outside this widget
            self.images_dir = self.masks_dir = self.fovs_dir = None
        else:
            self.fovs_dir = bundle.fovs_folder
        text = f"Uses {self._describe(bundle)}"
        proj = self.studio.project
        restored = (bundle is not None and bundle is self.restored and proj is not None
                    and proj.folder == self._restored_from)
        text += " (restored from the project)." if restored else "."
        if self.not_restored:
            from vessel_studio.gui.source_text import not_restored_text

            text += "\n" + not_restored_text(self.studio.recorded_source(), self.not_restored)
        if self.pending_model is not None:
            role, folder, modality = self.pending_model
            other = "generator" if role == "segmenter" else "segmenter"
            article = "an" if modality[:1] in "aeiou" else "a"
            text += (f"\n{role.capitalize()} {folder} is for {modality} images, the {other} in use is not: now choose "
                     f"{article} {modality} {other} ({other.capitalize()}…); until then the models in use stay.")
        if self._restoring is not None:
            text += "\n" + self._restoring_text(self._restoring[2])
        if self._pairing is not None:
            _n, images, masks, fovs = self._pairing
            text += f"\nPairing {images} with {masks}{'' if fovs is None else f' (FOV masks {fovs})'}…"
        if self.pending_images is not None:
            fovs = "" if self.pending_fovs is None else f" (FOV masks {self.pending_fovs})"
            text += f"\nImages: {self.pending_images}{fovs}; now choose their vessel masks folder (Choose masks…)."
        self.label.setText(text)
        from vessel_studio.gui.source_text import describe_models

        self.models_label.setText(describe_models(bundle))
        self.btn_masks.setEnabled(self.pending_images is not None or self.images_dir is not None)
        self.btn_fovs.setEnabled(self.pending_images is not None or self.images_dir is not None)
        self.btn_bundled.setEnabled(self.pending_model is not None or (
            bundle is not None and not self._is_default(dataclasses.replace(bundle, images=[]))))
        self.btn_clear.setEnabled(labelled or self.pending_images is not None)
        # not while the rounds' source is being restored: it differs only until the restore ends (then said, if it
        # could not be restored)
        conflict = None if self._restoring is not None else self.studio.source_conflict()
        self.warning.setText("" if conflict is None else
                             "⚠ differs from the source of this project's rounds: Run adds rounds on top of them "
                             "(it asks first)")
        self.warning.setToolTip(conflict or "")
        self.warning.setVisible(conflict is not None)
