"""Make the experiment's project: OCTA-500 3M training + validation images; with mode "accept", the
validation images segmented by the bundled model re-normalised on the project's images (the Review
panel's default for OCT-A) and each mask accepted unedited (saved as the correction, state "reviewed").
No label is read. Usage: make_project.py FOLDER DATA {none,accept}"""
import sys
from pathlib import Path

from vessel_studio.gui import tasks
from vessel_studio.store import Project

folder, data, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
octa = data / "OCTA-500"
proj = Project.create(folder, modality="octa")
proj.add_images([octa / "Training" / "OCTA500_3M_train_images"])
val = proj.add_images([octa / "Validation" / "OCTA500_3M_val_images"])
if mode == "accept":
    ids = [rec.id for rec in val]
    job = tasks.segment_source_only(proj, ids, renormalize=True)
    try:
        while True:
            next(job)
    except StopIteration:
        pass
    out = folder.parent / f"{folder.name}-accepted"
    out.mkdir(exist_ok=True)
    from vessel_studio.io.images import write_mask
    for rec in val:
        mask, origin = tasks.current_mask(proj, rec.id, threshold=0.5)
        assert origin == "predicted", origin
        proj.save_correction(rec.id, mask)  # what "Accept as reviewed" does: save ...
        proj.set_state(rec.id, "reviewed")  # ... then mark reviewed
        write_mask(out / (Path(rec.origin).stem + ".png"), mask)
print(f"{folder}: {len(proj.images)} images, {len(proj.corrections())} trusted masks")
