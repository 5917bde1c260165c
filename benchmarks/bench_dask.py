"""nimf on a dask cluster against nimf without one, on this machine.

Three measures, each on a ``LocalCluster`` of single-threaded worker processes
started here (TCP on localhost), the results checked equal to the ones
computed without a cluster:

- masking: ``mask_study`` of a generated study written as NIfTI files
  (``make_rest_study(n_subjects=--subjects, n_scans=150, resolution=4)``,
  about 29,400 voxels), in threads (``n_jobs`` 1 and 2) and on clusters of 1
  and 2 workers; scans per second, each after a warm-up run that loads nimf's
  compiled kernels in the workers;
- a stability ensemble: ``stability(DictLearning(n_epochs=1), study,
  ranks=[8, 12, 16, 20, 24], n_seeds=8)`` (40 fits) on the built-in study of
  ``nimf demo`` (``make_rest_study()``: 5 subjects x 150 scans at 4 mm) masked
  once into a study on disk, serial against the 2-worker cluster under
  ``joblib.parallel_config(backend="dask")``;
- the overhead of the cluster on a small job: a stability ensemble of NMF on
  a 60 x 40 matrix (9 fits of milliseconds), and the start and close of a
  2-worker cluster.

The machine's cores are shared with whatever else runs: read the ratios of
one run, not the absolute times.

    python benchmarks/bench_dask.py [--subjects 8] [--seeds 8]
"""

import argparse
import os
import shutil
import tempfile
import time
import warnings

import numpy as np


def _cluster(n_workers):
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, silence_logs=40)
    client = Client(cluster)
    return cluster, client, time.perf_counter() - t0


def _same_study(a, b):
    return (np.array_equal(a.data[:], b.data[:], equal_nan=True)
            and [s["sha256"] for s in a.subjects] == [s["sha256"] for s in b.subjects])


def bench_masking(folder, n_subjects):
    from nimf.datasets import make_rest_study
    from nimf.neuro import mask_study

    data = make_rest_study(n_subjects=n_subjects, n_scans=150, resolution=4, random_state=0,
                           output_dir=os.path.join(folder, "nifti"))
    n_scans = 150 * n_subjects
    common = dict(confounds=data.confounds, mask=data.mask_img, t_r=data.t_r, overwrite=True)
    out = os.path.join(folder, "study.zarr")
    warm = os.path.join(folder, "warm.zarr")
    print(f"Masking {n_subjects} subjects x 150 scans at 4 mm (NIfTI files), scans/s:")
    # the first call in this process loads the kernels
    mask_study(data.func[:1], warm, confounds=data.confounds[:1], mask=data.mask_img,
               t_r=data.t_r, overwrite=True, client=False)
    results = {}
    reference = None
    for n_jobs in (1, 2):
        t0 = time.perf_counter()
        study = mask_study(data.func, out, n_jobs=n_jobs, client=False, **common)
        results[f"threads n_jobs={n_jobs}"] = n_scans / (time.perf_counter() - t0)
        if reference is None:
            reference = study.data[:]
            ref_subjects = [s["sha256"] for s in study.subjects]
    for n_workers in (1, 2):
        cluster, client, _ = _cluster(n_workers)
        try:
            mask_study(data.func[:n_workers], warm, confounds=data.confounds[:n_workers],
                       mask=data.mask_img, t_r=data.t_r, overwrite=True, client=client)
            t0 = time.perf_counter()
            study = mask_study(data.func, out, client=client, **common)
            results[f"cluster {n_workers} worker{'s' * (n_workers > 1)}"] = \
                n_scans / (time.perf_counter() - t0)
            same = (np.array_equal(study.data[:], reference, equal_nan=True)
                    and [s["sha256"] for s in study.subjects] == ref_subjects)
        finally:
            client.close()
            cluster.close()
        print(f"  (cluster of {n_workers}: study identical to the threads' one: {same})")
    base = results["threads n_jobs=1"]
    for name, rate in results.items():
        print(f"  {name:<22} {rate:7.1f} scans/s   {rate / base:4.2f}x threads n_jobs=1")
    two, one = results["cluster 2 workers"], results["cluster 1 worker"]
    print(f"  2 workers / 1 worker: {two / one:.2f}x")


def bench_stability(folder, n_seeds):
    import joblib

    from nimf.assessment import stability
    from nimf.datasets import make_rest_study
    from nimf.neuro import DictLearning, mask_study

    data = make_rest_study(random_state=0)
    study = mask_study(data.func, os.path.join(folder, "builtin.zarr"),
                       confounds=data.confounds, mask=data.mask_img, t_r=data.t_r,
                       overwrite=True, client=False)
    ranks = [8, 12, 16, 20, 24]
    estimator = DictLearning(n_epochs=1)
    print(f"\nStability: {len(ranks)} ranks x {n_seeds} seeds of DictLearning(n_epochs=1) on "
          f"the built-in study ({study.n_scans} scans x {study.n_voxels} voxels, on disk):")
    DictLearning(n_components=2, n_epochs=1).fit(study)   # compiles / loads the kernels
    t0 = time.perf_counter()
    serial = stability(estimator, study, ranks, n_seeds=n_seeds, random_state=0)
    t_serial = time.perf_counter() - t0
    cluster, client, _ = _cluster(2)
    try:
        with joblib.parallel_config(backend="dask"):
            # warm-up: the workers load the kernels
            stability(estimator, study, [2], n_seeds=2, random_state=0, n_jobs=-1)
            t0 = time.perf_counter()
            on_cluster = stability(estimator, study, ranks, n_seeds=n_seeds, random_state=0,
                                   n_jobs=-1)
            t_cluster = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    same = (np.array_equal(serial.errors, on_cluster.errors)
            and all(np.array_equal(a, b) for a, b in zip(serial.best_components,
                                                         on_cluster.best_components)))
    print(f"  serial      {t_serial:6.2f} s")
    print(f"  2 workers   {t_cluster:6.2f} s   {t_serial / t_cluster:4.2f}x serial; results "
          f"identical: {same}")


def bench_overhead():
    import joblib

    from nimf.assessment import stability
    from nimf.decomposition import NMF

    rng = np.random.RandomState(0)
    X = np.abs(rng.randn(60, 4) @ rng.randn(4, 40)) + 0.1 * rng.rand(60, 40)
    estimator = NMF(max_iter=1000)
    print("\nOverhead on a small job: stability of NMF on a 60 x 40 matrix, 3 ranks x 3 "
          "seeds (best of 3):")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stability(estimator, X, [2, 3, 4], n_seeds=3, random_state=0)   # compiles
        t_serial = min(_time(lambda: stability(estimator, X, [2, 3, 4], n_seeds=3,
                                               random_state=0)) for _ in range(3))
        cluster, client, t_up = _cluster(2)
        try:
            with joblib.parallel_config(backend="dask"):
                stability(estimator, X, [2], n_seeds=2, random_state=0, n_jobs=-1)
                t_cluster = min(_time(lambda: stability(estimator, X, [2, 3, 4], n_seeds=3,
                                                        random_state=0, n_jobs=-1))
                                for _ in range(3))
        finally:
            t0 = time.perf_counter()
            client.close()
            cluster.close()
            t_down = time.perf_counter() - t0
    print(f"  serial      {t_serial * 1e3:7.1f} ms")
    print(f"  2 workers   {t_cluster * 1e3:7.1f} ms   (+{(t_cluster - t_serial) * 1e3:.0f} ms, "
          f"{t_cluster / t_serial:.1f}x serial; about "
          f"{(t_cluster - t_serial) / 9 * 1e3:.1f} ms per task)")
    print(f"  starting a 2-worker LocalCluster: {t_up:.2f} s, closing it: {t_down:.2f} s")


def _time(func):
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="nimf_bench_dask_")
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (other processes "
          f"on the cores slow the runs with more processes most)\n")
    try:
        bench_masking(folder, args.subjects)
        bench_stability(folder, args.seeds)
        bench_overhead()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
