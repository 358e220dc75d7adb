"""The Adaptation panel's "Labelled source images": the lab's own labelled source images and masks.

Without them the adaptation starts from the bundled generator's procedural vessel masks (an empty
:class:`~vessel_studio.adaptation.SourceBundle`). Folders are paired by
``SourceBundle.from_folders`` (``io.datasets.discover``: file names only, no image is read, so it
runs on the GUI thread); a folder that does not pair leaves the previous choice in place.

When a project opens whose rounds were adapted from labelled source images, the folders its
manifest records are paired again (``SourceBundle.from_record``: file names and the models'
hashes) and, when they pair the same images, become the studio's source ("restored from the
project"); when they do not, the box says which folder and what is wrong and the source stays as
it was (no dialog).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qtpy.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from vessel_studio.gui import dialogs


class SourceChooser(QGroupBox):
    """Sets ``studio.source_bundle``: "Choose images…", "Choose masks…" (paired by name) and "Clear"."""

    def __init__(self, studio, parent=None):
        super().__init__("Labelled source images", parent)
        self.studio = studio
        #: the folders of the labelled images in use, and an images folder still waiting for its masks
        self.images_dir: Path | None = None
        self.masks_dir: Path | None = None
        self.pending_images: Path | None = None
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
        self.btn_clear = QPushButton("Clear (use procedural masks)")
        self.btn_clear.setToolTip("Adapt from the bundled generator's procedural vessel masks")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        #: the chosen source differs from the one the project's rounds were adapted from
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #f0a030")

        row = QHBoxLayout()
        row.addWidget(self.btn_images)
        row.addWidget(self.btn_masks)
        row.addWidget(self.btn_clear)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.label)
        lay.addWidget(self.warning)

        self.btn_images.clicked.connect(self.choose_images)
        self.btn_masks.clicked.connect(self.choose_masks)
        self.btn_clear.clicked.connect(self.clear)
        studio.source_changed.connect(self.refresh)
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
        self.pending_images = Path(folder)
        self.refresh()
        return True

    def choose_masks(self) -> bool:
        """The vessel masks folder of the chosen images folder: paired now (an error dialog names what
        does not pair, and the previous choice stays)."""
        images = self.pending_images or self.images_dir
        if images is None:
            dialogs.error(self, "No source images", "Choose the folder of the labelled source images first.")
            return False
        folder = dialogs.pick_folder(self, f"Labelled source images: choose the vessel masks of {images}")
        if not folder:
            return False
        return self._pair(images, Path(folder))

    def _pair(self, images: Path, masks: Path) -> bool:
        """``SourceBundle.from_folders(images, masks)`` with the bundle's models; on success the studio
        adapts from it."""
        from vessel_studio.adaptation.job import SourceBundle

        current = self.studio.source_bundle
        models = {} if current is None else {
            "segmenter": current.segmenter, "generator": current.generator, "modality": current.modality}
        try:
            bundle = SourceBundle.from_folders(images, masks, **models)
        except (ValueError, OSError) as exc:
            dialogs.error(self, "Cannot use these source images",
                          f"{exc}\n\nThe adaptation keeps using {self._describe(current)}.")
            return False
        self.images_dir, self.masks_dir, self.pending_images = images, masks, None
        self.not_restored = ""
        self.studio.source_bundle = bundle  # refreshes through source_changed
        self.studio.status.emit(f"adaptation source: {len(bundle.images)} labelled images from {images}")
        return True

    @staticmethod
    def _describe(bundle) -> str:
        from vessel_studio.gui.source_text import describe_bundle

        return describe_bundle(bundle)

    def clear(self) -> None:
        """Back to procedural vessel masks (the bundle's models are kept)."""
        from vessel_studio.resources import DEFAULT_GENERATOR, DEFAULT_SEGMENTER

        current = self.studio.source_bundle
        self.images_dir = self.masks_dir = self.pending_images = None
        self.not_restored = ""
        if current is None or (str(current.segmenter) == DEFAULT_SEGMENTER and str(current.generator) == DEFAULT_GENERATOR
                               and current.modality == "fundus"):
            self.studio.source_bundle = None
        else:
            self.studio.source_bundle = dataclasses.replace(current, images=[], images_folder=None,
                                                            masks_folder=None, fovs_folder=None)
        self.studio.status.emit("adaptation source: procedural vessel masks")

    # --- the project's recorded source ---------------------------------------------------------

    def _project_changed(self) -> None:
        """A project was opened (another Project than before): restore its recorded labelled source.
        Other ``project_changed`` signals (e.g. after a rollback) only refresh."""
        if self.studio.project is not self._project:
            self._project = self.studio.project
            self.not_restored = ""
            self.restore_recorded()
        self.refresh()

    def restore_recorded(self) -> bool:
        """When the open project's rounds were adapted from labelled source images that are not the
        source in use: pair their recorded folders again and use them if they pair as recorded; else
        say why in ``not_restored`` (shown in the box) and keep the source in use."""
        from vessel_studio.adaptation.job import SourceBundle
        from vessel_studio.gui.source_text import is_labelled, same_source

        proj, record = self.studio.project, self.studio.recorded_source()
        if proj is None or not proj.rounds or not is_labelled(record):
            return False
        identity = self.studio.source_identity()
        if identity is not None and same_source(record, identity):
            return False  # already in use (chosen by hand, or restored when the project was opened before)
        try:
            bundle = SourceBundle.from_record(record)
        except (ValueError, OSError) as exc:
            self.not_restored = str(exc)
            return False
        self.images_dir, self.masks_dir, self.pending_images = bundle.images_folder, bundle.masks_folder, None
        self.restored, self._restored_from = bundle, proj.folder
        self.studio.source_bundle = bundle  # refreshes through source_changed
        self.studio.status.emit(f"adaptation source restored from the project: {len(bundle.images)} labelled images "
                                f"from {bundle.images_folder}")
        return True

    def _job_finished(self, _outcome) -> None:
        self.refresh()  # rounds committed: the warning about a changed source follows

    # --- display ---------------------------------------------------------------------------

    def refresh(self) -> None:
        bundle = self.studio.source_bundle
        labelled = bool(bundle is not None and bundle.images)
        if not labelled:  # e.g. the bundle was replaced from outside this widget
            self.images_dir = self.masks_dir = None
        text = f"Uses {self._describe(bundle)}"
        proj = self.studio.project
        restored = labelled and bundle is self.restored and proj is not None and proj.folder == self._restored_from
        text += " (restored from the project)." if restored else "."
        if self.not_restored:
            from vessel_studio.gui.source_text import not_restored_text

            text += "\n" + not_restored_text(self.studio.recorded_source(), self.not_restored)
        if self.pending_images is not None:
            text += f"\nImages: {self.pending_images}; now choose their vessel masks folder (Choose masks…)."
        self.label.setText(text)
        self.btn_masks.setEnabled(self.pending_images is not None or self.images_dir is not None)
        self.btn_clear.setEnabled(labelled or self.pending_images is not None)
        conflict = self.studio.source_conflict()
        self.warning.setText("" if conflict is None else
                             "⚠ differs from the source of this project's rounds: Run adds rounds on top of them "
                             "(it asks first)")
        self.warning.setToolTip(conflict or "")
        self.warning.setVisible(conflict is not None)
