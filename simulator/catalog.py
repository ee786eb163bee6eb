"""Named YAML files in a folder (hardware presets, built-in workloads)."""
from pathlib import Path


class Catalog:
    """The `*.yaml` files of `folder`, read by `loader(path)`; `kind` names them in errors."""

    def __init__(self, folder, kind, loader):
        self.folder = Path(folder)
        self.kind = kind
        self.loader = loader

    def names(self):
        return sorted(p.stem for p in self.folder.glob("*.yaml"))

    def path(self, name):
        """Path of the file `name` (ValueError listing the known names if there is none)."""
        file = self.folder / f"{name}.yaml"
        if not file.exists():
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return file

    def get(self, name):
        return self.loader(self.path(name))
