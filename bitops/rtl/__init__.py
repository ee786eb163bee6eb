"""RTL verification: golden vectors, a dump checker and a cocotb-feedable scoreboard.

- ``write_layer_vectors``: one layer's golden vectors (hex, binary, npz + manifest)
- ``verify``: check a hex/binary/VCD dump against them
- ``Scoreboard``: the same check, one transaction at a time
- ``engine``: the reference accelerator's folding and cycle formula (rtl/)
"""
from .scoreboard import Scoreboard
from .vectors import load_layer, read_manifest, write_layer_vectors
from .verify import verify

__all__ = ["Scoreboard", "load_layer", "read_manifest", "verify", "write_layer_vectors"]
