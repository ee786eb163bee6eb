"""Built-in workloads: YAML files in this folder (made by `generate.py`)."""
from pathlib import Path

from ..workload import Workload

FOLDER = Path(__file__).parent


def names():
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def path(name):
    file = FOLDER / f"{name}.yaml"
    if not file.exists():
        raise ValueError(f"unknown built-in workload {name!r}; workloads: {', '.join(names())}")
    return file


def get(name):
    return Workload.from_file(path(name))
