import os
import sys

# BLAS single threaded, so that results are stable on small CI boxes: the
# variables reach the processes the tests start; in this process pytest's plugins
# have already loaded numpy's BLAS, so its threads are limited by threadpoolctl
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")

# make ``tests/naive.py`` importable as ``naive``
sys.path.insert(0, os.path.dirname(__file__))


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


@pytest.fixture
def checkpoint_steps(monkeypatch):
    """The ``n_steps_`` at which the online learner writes each checkpoint of a fit."""
    from nimf.decomposition import _online_state

    saved = []
    real = _online_state.save_fit_checkpoint

    def recording(est, path, *args, **kwargs):
        saved.append(est.n_steps_)
        return real(est, path, *args, **kwargs)

    monkeypatch.setattr(_online_state, "save_fit_checkpoint", recording)
    return saved
