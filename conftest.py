"""Repository-level pytest set-up: the tests import the source tree, so its
native core must be built there (pip install -e .)."""
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
if not glob.glob(os.path.join(HERE, "bitops", "_core*.so")) and not glob.glob(os.path.join(HERE, "bitops", "_core*.pyd")):
    raise RuntimeError(
        "bitops' native core is not built in this source tree; the tests import the source tree, "
        "so install it editable: pip install -e '.[test]'"
    )
