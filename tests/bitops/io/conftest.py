import os

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


@pytest.fixture
def fixture_path():
    def get(name):
        return os.path.normpath(os.path.join(FIXTURES, name))
    return get
