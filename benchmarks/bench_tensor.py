"""nimf CP decomposition against tensorly (and tensortools where it installs), one process.

Cases (planted factors, 10% Gaussian noise: ``||noise|| = 0.1 ||X0||``):

- ``gaussian``: 200 x 150 x 100, rank 10, Gaussian factors; CP-ALS
  (tensorly ``parafac``, tensortools ``cp_als``);
- ``nonnegative``: 200 x 150 x 100, rank 10, sparse exponential factors, the
  noisy tensor clipped at 0; non-negative CP by HALS (tensorly
  ``non_negative_parafac_hals``, tensortools ``ncp_hals``);
- ``4-way``: 60 x 50 x 40 x 30, rank 8, Gaussian factors; CP-ALS;
- ``masked``: the Gaussian case with 30% of the entries missing; CP-ALS with a
  mask (tensorly ``parafac(mask=...)``, tensortools ``mcp_als``); errors on the
  observed entries, and on the hidden ones.

Each library runs with its defaults ('svd' starts for nimf and tensorly).
tensorly is timed with single-threaded BLAS and with the default threads, and
the faster is kept (threaded OpenBLAS can be much slower on a busy machine);
nimf runs BLAS single-threaded and cuts its products over the cores itself.
For nimf two figures are given: its default fit, and the time at which a fit
with a tight tolerance first reaches an error equal to or lower than
tensorly's final error ("to tensorly's error", the time the ratio uses).
The factor match score is the mean over components matched one to one of the
product over modes of |cosine| with the planted factors.  Times are the best
of ``--repeats`` runs, after a warm-up (numba compilation).

    python benchmarks/bench_tensor.py [--repeats 3] [--cases gaussian,nonnegative,4-way,masked]
"""

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from nimf.assessment import factor_match_score
from nimf.tensor import CPDecomposition, cp_to_tensor


def make_case(name, seed=0):
    rng = np.random.RandomState(seed)
    if name == "4-way":
        shape, rank = (60, 50, 40, 30), 8
    else:
        shape, rank = (200, 150, 100), 10
    if name == "nonnegative":
        factors = [rng.exponential(size=(n, rank)) * (rng.uniform(size=(n, rank)) < 0.5)
                   for n in shape]
    else:
        factors = [rng.standard_normal((n, rank)) for n in shape]
    X0 = cp_to_tensor(None, factors)
    noise = rng.standard_normal(shape)
    X = X0 + 0.1 * np.linalg.norm(X0) / np.linalg.norm(noise) * noise
    if name == "nonnegative":
        X = np.maximum(X, 0.0)
    mask = rng.uniform(size=shape) >= 0.3 if name == "masked" else None
    return X, factors, rank, mask


def relative_error(X, X_hat, where=None):
    if where is not None:
        X, X_hat = X[where], X_hat[where]
    return float(np.linalg.norm(X - X_hat) / np.linalg.norm(X))


def best_time(run, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ------------------------------------------------------------------ nimf
def nimf_fit(X, rank, mask, nonnegative, tol=1e-6, max_iter=500, trace=None):
    def record(n_iter, weights, factors):
        trace.append(time.perf_counter())

    model = CPDecomposition(rank, nonnegative=nonnegative, tol=tol, max_iter=max_iter,
                            random_state=0, callback=None if trace is None else record)
    return model.fit(X, mask=mask)


def nimf_time_to(X, rank, mask, nonnegative, target, repeats):
    """Best over repeats of the time at which the error first is <= target."""
    best = np.inf
    for _ in range(repeats):
        trace = []
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = nimf_fit(X, rank, mask, nonnegative, tol=1e-10, max_iter=300, trace=trace)
        reached = np.flatnonzero(model.errors_ <= target)
        if reached.size:
            best = min(best, trace[reached[0]] - t0)
    return best


# -------------------------------------------------------------- tensorly
def tensorly_fit(X, rank, mask, nonnegative):
    from tensorly.decomposition import non_negative_parafac_hals, parafac

    if nonnegative:
        cp = non_negative_parafac_hals(X, rank, init="svd")
    else:
        cp = parafac(X, rank, init="svd", mask=mask)
    return cp.weights, cp.factors


def tensorly_best(X, rank, mask, nonnegative, repeats):
    timings = {}
    for threads in (1, None):
        with threadpool_limits(limits=threads, user_api="blas"):
            timings[threads] = best_time(lambda: tensorly_fit(X, rank, mask, nonnegative),
                                         repeats)
    threads = min(timings, key=lambda k: timings[k][0])
    return timings[threads][0], timings[threads][1], "1" if threads == 1 else "default"


# ------------------------------------------------------------ tensortools
def tensortools_fit(X, rank, mask, nonnegative):
    import tensortools as tt

    if nonnegative:
        result = tt.ncp_hals(X, rank, random_state=0, verbose=False)
    elif mask is not None:
        result = tt.mcp_als(X, rank, mask.astype(float), random_state=0, verbose=False)
    else:
        result = tt.cp_als(X, rank, random_state=0, verbose=False)
    return None, list(result.factors.factors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="gaussian,nonnegative,4-way,masked")
    args = parser.parse_args()
    try:
        import tensortools  # noqa: F401
        have_tensortools = True
    except ImportError:
        have_tensortools = False
    import tensorly

    # warm-up: numba compilation of every kernel and dtype
    small = np.abs(np.random.RandomState(0).standard_normal((6, 5, 4)))
    for nonnegative in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CPDecomposition(2, nonnegative=nonnegative, max_iter=3).fit(
                small, mask=small > 0.2)
            CPDecomposition(2, nonnegative=nonnegative, max_iter=3).fit(small)
    print(f"tensorly {tensorly.__version__}; tensortools "
          f"{'installed' if have_tensortools else 'not installed'}; repeats {args.repeats}")
    header = (f"{'case':<12} {'library':<24} {'time (s)':>9} {'iters':>6} {'rel. error':>13} "
              f"{'held-out':>9} {'FMS':>6}")
    for case in args.cases.split(","):
        X, truth, rank, mask = make_case(case)
        nonnegative = case == "nonnegative"
        hidden = None if mask is None else ~mask
        X_fit = X if mask is None else np.where(mask, X, np.nan)
        print(f"\n{case}: shape {X.shape}, rank {rank}"
              + ("" if mask is None else f", {hidden.mean():.0%} missing"))
        print(header)

        def show(library, seconds, X_hat, factors, n_iter="", note=""):
            held = "" if hidden is None else f"{relative_error(X, X_hat, hidden):.4f}"
            error = relative_error(X, X_hat, mask)
            print(f"{case:<12} {library:<24} {seconds:9.3f} {str(n_iter):>6} {error:13.10f} "
                  f"{held:>9} {factor_match_score(truth, factors):6.3f} {note}")
            return error

        seconds, model = best_time(lambda: nimf_fit(X_fit, rank, mask, nonnegative),
                                   args.repeats)
        nimf_error = show("nimf", seconds, model.reconstruct(), model.factors_, model.n_iter_)
        X_tl = X if mask is None else np.where(mask, X, 0.0)
        tl_seconds, (weights, factors), threads = tensorly_best(X_tl, rank, mask, nonnegative,
                                                                args.repeats)
        tl_error = show("tensorly", tl_seconds, cp_to_tensor(weights, factors), factors,
                        note=f"(BLAS threads: {threads})")
        to_target = nimf_time_to(X_fit, rank, mask, nonnegative, tl_error, args.repeats)
        if np.isfinite(to_target):
            print(f"{case:<12} {'nimf to tensorly error':<24} {to_target:9.3f}")
        if have_tensortools:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tt_seconds, (_, tt_factors) = best_time(
                    lambda: tensortools_fit(X_tl, rank, mask, nonnegative), args.repeats)
            show("tensortools", tt_seconds, cp_to_tensor(None, tt_factors), tt_factors)
        reference = to_target if np.isfinite(to_target) else seconds
        print(f"{case:<12} speed-up vs tensorly: {tl_seconds / reference:.1f}x to equal-or-lower "
              f"error (default fit {tl_seconds / seconds:.1f}x, error "
              f"{'<=' if nimf_error <= tl_error else '>'} tensorly's)"
              + ("" if not have_tensortools else
                 f"; vs tensortools {tt_seconds / seconds:.1f}x (default fits)"))


if __name__ == "__main__":
    main()
