"""Make the experiment's project: OCTA-500 3M training + validation images, optionally with the
validation labels saved as corrections. Usage: make_project.py FOLDER DATA {none,validation}"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from vessel_studio.store import Project

folder, data, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
octa = data / "OCTA-500"
proj = Project.create(folder, modality="octa")
proj.add_images([octa / "Training" / "OCTA500_3M_train_images"])
val = proj.add_images([octa / "Validation" / "OCTA500_3M_val_images"])
if mode == "validation":
    for rec in val:
        lab = np.asarray(Image.open(octa / "Validation" / "OCTA500_3M_val_labels" / Path(rec.origin).name).convert("L")) > 0
        proj.save_correction(rec.id, lab)
print(f"{folder}: {len(proj.images)} images, {len(proj.corrections())} corrections")
