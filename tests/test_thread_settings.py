"""The suite's thread settings take effect (tests/conftest.py sets them before numpy loads)."""
from threadpoolctl import threadpool_info


def test_blas_runs_single_threaded_in_the_suite():
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas, "no BLAS library found"
    assert all(info["num_threads"] == 1 for info in blas), blas
