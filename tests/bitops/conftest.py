import pytest

import bitops


@pytest.fixture(params=bitops.available_kernel_paths())
def kernel_path(request):
    """Run a test once on every kernel path this CPU supports, then restore the default."""
    before = bitops.get_kernel_path()
    bitops.set_kernel_path(request.param)
    yield request.param
    bitops.set_kernel_path(before)
