"""Hardware presets: YAML files in this folder, one per part or node.

Copy one and edit it: `simulator.presets.path(name)` gives its location.
"""
from pathlib import Path

from ..hardware import Hardware

FOLDER = Path(__file__).parent


def names():
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def path(name):
    """Path of the preset file `name` (ValueError listing the presets if unknown)."""
    file = FOLDER / f"{name}.yaml"
    if not file.exists():
        raise ValueError(f"unknown hardware preset {name!r}; presets: {', '.join(names())}")
    return file


def get(name):
    """The `Hardware` of preset `name`."""
    return Hardware.from_file(path(name))
