"""nimf's default NMF against scikit-learn's default NMF over data regimes.

Each row is one generated non-negative matrix (dense; sparse factors; or mostly
exact zeros, stored as a dense array since nimf's NMF takes dense arrays),
tall, wide or square, float32 or float64, with ``k`` planted components and
``k`` fitted.  Both estimators run with their defaults, ``NMF(n_components=k)``
(scikit-learn: init='nndsvda', solver='cd', tol=1e-4, max_iter=200), each to
its own convergence, in this process, best of ``--repeats`` runs (the two
alternating); numba is warmed up first.  Both get ``random_state=0`` (it only
seeds the randomized SVD of the NNDSVDa start), so each row is reproducible.
BLAS runs on ``--blas-threads`` threads (default 1: on a shared machine one
thread per process times far more steadily; the same for both).  ``--clock cpu``
times by the CPU time of the calling thread instead of wall time: with one BLAS
thread every computation of both libraries runs in that thread, so this is
their compute time, which stays steady when other processes load the machine
(wall time there grows with the load, and unevenly).

Columns:

- ``sk s`` / ``nimf s``: wall time of ``fit`` (initialisation included);
- ``sk err`` / ``nimf err``: final relative error ``||X - W H||_F / ||X||_F``;
- ``x def``: scikit-learn's time over nimf's (both to their own convergence);
- ``x err``: scikit-learn's time over the time nimf takes to first reach
  scikit-learn's final error.  That time comes from one more nimf fit, with
  its defaults except ``tol=0`` (so it does not stop at its own tolerance),
  whose callback computes the error after every iteration (its own time is
  subtracted) and stops the fit at the first iteration that reaches
  scikit-learn's error.  The iterations are the same as the default fit's up
  to where that one stops (a row where nimf's final error is above
  scikit-learn's is marked ``NO``).

Targets (issue 13): ``x err >= 2`` on every row, median >= 3, with nimf's final
error (at its own convergence) <= scikit-learn's (``err ok``).  Errors within
``--err-rtol`` (default 1e-5 relative: float32 round-off, or two nearby local
minima) count as equal, both for ``err ok`` and for reaching scikit-learn's
error.  ``x def`` compares the times to each one's own convergence, where
the two stop at different errors.

    python benchmarks/bench_nmf_regimes.py [--repeats 3] [--blas-threads 1] [--clock wall|cpu]
                                           [--rows issue,...] [--seed 0]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import NMF as SklearnNMF
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from nimf.decomposition.nmf import NMF

# name, kind, n, p, k, dtype
REGIMES = [
    ("issue", "sparse", 2000, 1500, 20, np.float64),
    ("issue-f32", "sparse", 2000, 1500, 20, np.float32),
    ("dense-tall", "dense", 5000, 300, 10, np.float64),
    ("dense-wide-f32", "dense", 300, 5000, 10, np.float32),
    ("dense-square-k5", "dense", 1000, 1000, 5, np.float64),
    ("dense-square-k20-f32", "dense", 1500, 1500, 20, np.float32),
    ("dense-wide-k50", "dense", 600, 3000, 50, np.float64),
    ("sparse-tall-k30", "sparse", 4000, 600, 30, np.float64),
    ("sparse-wide-k5-f32", "sparse", 800, 4000, 5, np.float32),
    ("sparse-square-k50-f32", "sparse", 1200, 1200, 50, np.float32),
    ("zeros-square-k10", "zeros", 1500, 1500, 10, np.float64),
    ("zeros-tall-k20-f32", "zeros", 3000, 800, 20, np.float32),
    ("dense-tall-k50-f32", "dense", 4000, 800, 50, np.float32),
]


# the clock of every timing: wall time (default) or, with --clock cpu, the CPU
# time of the calling thread, which (with one BLAS thread, run in the calling
# thread, and numba kernels that run there too) is the compute time of a fit and
# much steadier than wall time on a loaded machine
CLOCK = [time.perf_counter]


def make_data(kind, n, p, k, dtype, seed=0):
    """Planted non-negative factors plus non-negative noise.

    'sparse': issue 13's matrix, exponential factors with 70% zeros and
    exponential noise (on every entry); 'zeros': the same with 80% of the
    entries then set to zero (sparse data, mostly exact zeros); 'dense':
    uniform factors and half-normal noise.
    """
    rng = np.random.RandomState(seed)
    if kind == "sparse":
        W = rng.exponential(1.0, (n, k)) * (rng.rand(n, k) >= 0.7)
        H = rng.exponential(1.0, (k, p)) * (rng.rand(k, p) >= 0.7)
        X = W @ H
        X += 0.1 * X.mean() * rng.exponential(1.0, (n, p))
    elif kind == "zeros":
        X = make_data("sparse", n, p, k, np.float64, seed)
        X *= rng.rand(n, p) < 0.2
    else:
        W = rng.rand(n, k)
        H = rng.rand(k, p)
        X = W @ H
        X += 0.1 * X.std() * np.abs(rng.standard_normal((n, p)))
    return X.astype(dtype)


def rel_error(X, W, H):
    X64 = X.astype(np.float64)
    return float(np.linalg.norm(X64 - W.astype(np.float64) @ H.astype(np.float64))
                 / np.linalg.norm(X64))


def timed_fit(est, X):
    t0 = CLOCK[0]()
    W = est.fit_transform(X)
    elapsed = CLOCK[0]() - t0
    return elapsed, rel_error(X, W, est.components_), est.n_iter_


def nimf_time_to(X, k, target, max_iter=200):
    """Time nimf's default path takes to first reach relative error ``target``.

    The callback computes the error after every iteration; the time it takes
    is not counted, and it stops the fit once ``target`` is reached.
    """
    state = {"hit": float("inf"), "excluded": 0.0}
    t0 = CLOCK[0]()

    def check(n_iter, W, H):
        entered = CLOCK[0]()
        reached = rel_error(X, W, H) <= target
        if reached:
            state["hit"] = entered - t0 - state["excluded"]
        state["excluded"] += CLOCK[0]() - entered
        return reached

    NMF(n_components=k, tol=0, max_iter=max_iter, random_state=0, callback=check).fit(X)
    return state["hit"]


def compare(X, k, repeats, err_rtol):
    sk, ni, hits = [], [], []
    for _ in range(repeats):
        sk.append(timed_fit(SklearnNMF(n_components=k, random_state=0), X))
        ni.append(timed_fit(NMF(n_components=k, random_state=0), X))
    t_sk, e_sk, it_sk = min(sk)
    for _ in range(repeats):
        hits.append(nimf_time_to(X, k, e_sk * (1 + err_rtol)))
    t_ni, e_ni, it_ni = min(ni)
    return t_sk, e_sk, it_sk, t_ni, e_ni, it_ni, min(hits)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", default="", help="comma-separated row names (default all)")
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or the CPU time of this thread (steadier under "
                             "load; needs --blas-threads 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the generated matrices (the fits keep random_state=0)")
    parser.add_argument("--err-rtol", type=float, default=1e-5,
                        help="errors within this relative difference count as equal")
    args = parser.parse_args()
    if args.clock == "cpu":
        if args.blas_threads != 1:
            parser.error("--clock cpu needs --blas-threads 1 (BLAS threads' time is not counted)")
        CLOCK[0] = time.thread_time
    threadpool_limits(args.blas_threads)
    warnings.simplefilter("ignore", ConvergenceWarning)
    wanted = set(filter(None, args.rows.split(",")))

    # warm-up: compile (or load from cache) the numba kernels, both dtypes
    for dtype in (np.float64, np.float32):
        NMF(3, max_iter=5).fit(np.random.RandomState(0).rand(60, 40).astype(dtype))

    header = (f"{'regime':22s} {'shape':>11s} {'k':>3s} {'dtype':7s} {'sk s':>7s} {'it':>4s} "
              f"{'nimf s':>7s} {'it':>4s} {'x def':>6s} {'to-err s':>8s} {'x err':>6s} "
              f"{'sk err':>9s} {'nimf err':>9s} err ok")
    print(header)
    print("-" * len(header))
    x_def, x_err, ok = [], [], []
    for name, kind, n, p, k, dtype in REGIMES:
        if wanted and name not in wanted:
            continue
        X = make_data(kind, n, p, k, dtype, seed=args.seed)
        t_sk, e_sk, it_sk, t_ni, e_ni, it_ni, t_hit = compare(X, k, args.repeats, args.err_rtol)
        good = e_ni <= e_sk * (1 + args.err_rtol)
        x_def.append(t_sk / t_ni)
        x_err.append(t_sk / t_hit)
        ok.append(good)
        print(f"{name:22s} {n:>5d}x{p:<5d} {k:3d} {np.dtype(dtype).name:7s} {t_sk:7.2f} "
              f"{it_sk:4d} {t_ni:7.2f} {it_ni:4d} {t_sk / t_ni:6.2f} {t_hit:8.2f} "
              f"{t_sk / t_hit:6.2f} {e_sk:9.6f} {e_ni:9.6f} {'yes' if good else 'NO'}",
              flush=True)
    print("-" * len(header))
    print(f"x def: min {min(x_def):.2f}  median {np.median(x_def):.2f}   "
          f"x err: min {min(x_err):.2f}  median {np.median(x_err):.2f}   "
          f"final error <= scikit-learn's on {sum(ok)}/{len(ok)} rows")


if __name__ == "__main__":
    main()
