"""Hardware presets: YAML files in this folder, one per part or node.

Copy one and edit it: `simulator.presets.path(name)` gives its location;
`get(name)` returns its `Hardware`, `names()` lists them.
"""
from pathlib import Path

from ..catalog import Catalog
from ..hardware import Hardware

_CATALOG = Catalog(Path(__file__).parent, "hardware preset", Hardware.from_file)
names, path, get = _CATALOG.names, _CATALOG.path, _CATALOG.get
