"""Built-in workloads: YAML files in this folder (written by `generate.py`).

`get(name)` returns its `Workload`, `names()` lists them, `path(name)` locates the file.
"""
from pathlib import Path

from ..catalog import Catalog
from ..workload import Workload

_CATALOG = Catalog(Path(__file__).parent, "built-in workload", Workload.from_file)
names, path, get = _CATALOG.names, _CATALOG.path, _CATALOG.get
