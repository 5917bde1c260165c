"""Throughput of the SOMF step at HCP width, against the machine's GEMM speed.

Data in memory of the width of the 2 mm MNI brain mask (235,375 features),
float32, with planted sparse components; the learner at reduction 12, batches of
200 samples, ``k`` components (70 by default; DiFuMo's 256 and 1024 with
``--components 70 256 1024``).  A float32 matrix product (4096 x 4096 x 4096,
all cores) is timed in the same run: its speed bounds what any implementation
of a step could reach.  A step needs, per sample, ``4 k s`` flops for the
products of the codes and of the statistics (``s = p / 12`` sampled features) and
``2 k^2 s / b`` for the dictionary update, so the compute limit is
``GEMM flop/s / (4 k s + 2 k^2 s / b)`` samples per second; the script prints
the measured samples per second and the fraction of that limit.

Two layouts of the same data are measured:

- "nimf layout": the features stored in a fixed random order
  (``nimf.sources.PermutedFeatures``), as the image estimators lay out masked
  data in memory and as a masked study is stored on disk: a step reads whole
  blocks of contiguous features;
- "plain array": an array in the user's feature order, which the learner
  samples through its own permutation (scattered reads).

The rate is the steady rate of the steps (from ``history_``: after the first
step, start and end of the fit excluded) and the rate of the whole ``fit``
(start from samples, ``dict_init='data'``, included).

    python benchmarks/bench_throughput.py [--components 70 256 1024] [--n-samples 4000]
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info

from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import OnlineDictionaryLearning
from nimf.sources import PermutedFeatures

P = 235375


def gemm_flops(size=4096, repeats=3):
    """Best float32 GEMM speed (flop/s) of numpy's BLAS with all its threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best


def measure(data, k, n_epochs, seed):
    est = OnlineDictionaryLearning(k, batch_size=200, reduction=12, n_epochs=n_epochs,
                                   dict_l1_ratio=1.0, dict_init="data", tol=0,
                                   history_every=1, random_state=seed)
    t0 = time.perf_counter()
    est.fit(data)
    total = time.perf_counter() - t0
    h = est.history_
    times = np.asarray(h["time"])
    samples = np.asarray(h["n_samples"])
    # steady rate: from the end of the first step to the last step (the last
    # record is the end of the fit, after the last step's record)
    steady = (samples[-2] - samples[1]) / (times[-2] - times[1])
    return steady, samples[-1] / total, est


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, nargs="+", default=[70])
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--n-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas"]
    flops = gemm_flops()
    print(f"float32 GEMM (4096^3, {blas}): {flops / 1e9:.0f} GFLOP/s")
    t0 = time.perf_counter()
    data = make_sparse_dictionary_data(args.n_samples, P, 70, n_test=1, snr=1.0,
                                       random_state=args.seed, dtype=np.float32)
    X = data.X
    print(f"data: {X.shape[0]} x {X.shape[1]} float32 ({X.nbytes / 1e9:.1f} GB), generated "
          f"in {time.perf_counter() - t0:.0f} s")
    perm = np.random.default_rng(args.seed).permutation(P)
    X_perm = np.ascontiguousarray(X[:, perm])
    layouts = {"nimf layout": PermutedFeatures(X_perm, perm, checked=True), "plain array": X}
    # compile the kernels once, outside the timings
    OnlineDictionaryLearning(2, reduction=2, n_epochs=1).fit(X[:20, :50])
    s = int(np.ceil(P / 12))
    print()
    header = (f"{'k':>6}{'layout':>14}{'flop/sample':>13}{'limit/s':>10}{'steady/s':>10}"
              f"{'fraction':>10}{'whole fit/s':>13}")
    print(header)
    print("-" * len(header))
    results = {}
    for k in args.components:
        per_sample = 4 * k * s + 2 * k * k * s / 200
        limit = flops / per_sample
        for name, data_in in layouts.items():
            steady, whole, _ = measure(data_in, k, args.n_epochs, args.seed)
            results[(k, name)] = dict(steady=steady, whole=whole, limit=limit)
            print(f"{k:>6}{name:>14}{per_sample / 1e6:>11.1f} M{limit:>10.0f}{steady:>10.0f}"
                  f"{steady / limit:>10.1%}{whole:>13.0f}")
    print()
    first = results[(args.components[0], "nimf layout")]
    ok = first["steady"] / first["limit"] >= 0.25
    print(f"  [{'met' if ok else 'NOT met'}] k={args.components[0]}, nimf layout: at least 25% "
          "of the compute limit")
    return results


if __name__ == "__main__":
    main()
