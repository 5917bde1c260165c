import os
import sys

import numpy as np
import pytest

# make ``tests/naive.py`` importable as ``naive``
sys.path.insert(0, os.path.dirname(__file__))

# keep BLAS single threaded so timings and results are stable on small CI boxes
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


def rtol_for(dtype):
    return 1e-10 if np.dtype(dtype) == np.float64 else 2e-4


@pytest.fixture
def no_open_figures():
    """Fail a test that leaves pyplot figures open (drawing code must close its own)."""
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    leaked = plt.get_fignums()
    plt.close("all")
    assert leaked == [], f"pyplot figures left open: {leaked}"
