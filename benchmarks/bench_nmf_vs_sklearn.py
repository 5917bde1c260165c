"""nimf NMF (accelerated HALS, numba) against scikit-learn's NMF(solver='cd').

Data: 2000 x 1500 non-negative matrix with 20 planted sparse factors and a
little noise.  Both estimators start from the same NNDSVDa initialisation
(passed as init='custom').  scikit-learn runs with its defaults (tol=1e-4,
max_iter=200); nimf records (time, W, H) after every iteration and we report
when it first reaches scikit-learn's final reconstruction error.  Numba is
warmed up first; each timing is the best of ``--repeats`` runs.

``--clock cpu`` times by the CPU time of the calling thread, with BLAS
limited to one thread (so that every computation of both libraries runs in
that thread): steadier than wall time when other processes load the machine.

    python benchmarks/bench_nmf_vs_sklearn.py [--repeats 3] [--float32] [--clock wall|cpu]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import NMF as SklearnNMF

from sklearn.exceptions import ConvergenceWarning

from nimf.decomposition.nmf import NMF, nndsvd


# wall time, or (--clock cpu) the CPU time of the calling thread
CLOCK = [time.perf_counter]


def make_data(n=2000, p=1500, k=20, density=0.2, noise=0.01, seed=0):
    rng = np.random.RandomState(seed)
    W = rng.rand(n, k) * (rng.rand(n, k) < density)
    H = rng.rand(k, p) * (rng.rand(k, p) < density)
    X = W @ H
    X += noise * X.std() * np.abs(rng.randn(n, p))
    return X


def run_sklearn(X, W0, H0, k):
    est = SklearnNMF(k, init="custom", solver="cd")
    t0 = CLOCK[0]()
    W = est.fit_transform(X, W=W0.copy(), H=H0.copy())
    elapsed = CLOCK[0]() - t0
    return elapsed, np.linalg.norm(X - W @ est.components_), est.n_iter_


def run_nimf_trace(X, W0, H0, k, max_iter):
    trace = []
    t0 = CLOCK[0]()

    def record(n_iter, W, H):
        trace.append((CLOCK[0]() - t0, W.copy(), H.copy()))

    NMF(k, init="custom", tol=0, max_iter=max_iter, callback=record).fit(
        X, W=W0.copy(), H=H0.copy())
    return [(t, np.linalg.norm(X - W @ H)) for t, W, H in trace]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--float32", action="store_true")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or the CPU time of this thread with one BLAS thread")
    args = parser.parse_args()
    if args.clock == "cpu":
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        CLOCK[0] = time.thread_time
    warnings.simplefilter("ignore", ConvergenceWarning)

    X = make_data()
    if args.float32:
        X = X.astype(np.float32)
    k = 20
    W0, H0 = nndsvd(X, k, variant="nndsvda", random_state=0)
    W0, H0 = W0.astype(X.dtype), H0.astype(X.dtype)

    # warm-up: compile (or load from cache) the numba kernels
    NMF(3, init="random", max_iter=3, random_state=0).fit(X[:50, :40])

    sk_times, sk_err, sk_iter = [], None, None
    for _ in range(args.repeats):
        t, sk_err, sk_iter = run_sklearn(X, W0, H0, k)
        sk_times.append(t)
    t_sk = min(sk_times)

    hit_times, final_err, hit_iter = [], None, None
    for _ in range(args.repeats):
        trace = run_nimf_trace(X, W0, H0, k, max_iter=sk_iter)
        hits = [i for i, (_, e) in enumerate(trace) if e <= sk_err]
        if hits:
            hit_iter = hits[0] + 1
            hit_times.append(trace[hits[0]][0])
        final_err = trace[-1][1]
    t_hit = min(hit_times) if hit_times else float("nan")

    est = NMF(k, init="custom")
    t0 = CLOCK[0]()
    W = est.fit_transform(X, W=W0.copy(), H=H0.copy())
    t_default = CLOCK[0]() - t0
    err_default = np.linalg.norm(X - W @ est.components_)

    print(f"data {X.shape} {X.dtype}, {k} components, same NNDSVDa init, "
          f"best of {args.repeats}")
    print(f"sklearn NMF(cd)      : {t_sk:8.3f} s  {sk_iter:4d} iterations  "
          f"final error {sk_err:.6f}")
    print(f"nimf to sklearn error: {t_hit:8.3f} s  {hit_iter} iterations  "
          f"(error after {sk_iter} iterations: {final_err:.6f})")
    print(f"nimf default tol     : {t_default:8.3f} s  {est.n_iter_:4d} iterations  "
          f"final error {err_default:.6f}")
    print(f"speed-up to sklearn's final error: {t_sk / t_hit:.2f}x")


if __name__ == "__main__":
    main()
