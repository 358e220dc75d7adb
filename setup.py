"""What pyproject.toml cannot say: the repository's ``resources/`` folder (the bundled models with their
model cards) goes into the wheel as the package ``vessel_studio._resources``, so that a non-editable
install (``pip install .``, a wheel) has the models that ``--model fundus-segmenter``, the studio's default
source and ``vs.Segmenter.load("fundus-segmenter")`` name. The folder stays where it is in the repository
(an editable install reads it there: ``vessel_studio.resources.resources_dir``); nothing is copied in git.
Everything else is configured in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["vessel_studio", "vessel_studio.*"])
    + ["vessel_studio._resources", "vessel_studio._resources.models"],  # folders of data, no Python
    package_dir={"vessel_studio._resources": "resources"},
    package_data={
        "vessel_studio.gui": ["napari.yaml"],
        # safetensors + config.json + the model card (README.md: the data the model saw and its licence)
        "vessel_studio._resources.models": ["*/*"],
    },
)
