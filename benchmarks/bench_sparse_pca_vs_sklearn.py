"""nimf's SparsePCA against scikit-learn's MiniBatchSparsePCA.

Both run in this one process, with their default parameters, on the same
planted-sparse-components data (default: 1000 samples x 5000 features, 10
components with random-sign bumps covering 5% of the features, SNR 1):

- scikit-learn ``MiniBatchSparsePCA(n_components=10, random_state=0)``;
- nimf ``SparsePCA(n_components=10, random_state=0)``.

For each fit it prints the time (best of ``--repeats``), the recovery of the
planted components (Hungarian-matched mean best |cosine|), the held-out
residual (relative residual of the least-squares fit of the held-out samples,
centred by the training mean, on the learned components; the planted
components give the best possible value) and the fraction of exactly zero
entries of the components; then the speed ratio and whether the targets are
met (>= 5x faster, recovery >= 0.98, held-out residual no worse, sparse).

    python benchmarks/bench_sparse_pca_vs_sklearn.py [--repeats 3] [--dtype float64]
"""

import argparse

import numpy as np
from sklearn.decomposition import MiniBatchSparsePCA

from _common import heldout_residual, recovery, timed
from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition.sparse_pca import SparsePCA


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=5000)
    parser.add_argument("--n-components", type=int, default=10)
    parser.add_argument("--snr", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    k = args.n_components
    data = make_sparse_dictionary_data(args.n_samples, args.n_features, k, snr=args.snr,
                                       positive=False, random_state=args.seed,
                                       dtype=np.dtype(args.dtype))
    X = data.X
    print(f"data: {X.shape[0]} x {X.shape[1]} ({X.dtype}), {k} planted sparse components "
          f"(random-sign bumps), SNR {args.snr:g}, {data.X_test.shape[0]} held-out samples")
    best = heldout_residual(data.components, data.X_test - X.mean(axis=0))
    print(f"best possible held-out residual (planted components): {best:.4f}\n")

    # compile nimf's kernels once, outside the timings (cached on disk after)
    SparsePCA(2, max_iter=1, random_state=0).fit(X[:20, :50])

    runs = {
        "sklearn MiniBatchSparsePCA": lambda: MiniBatchSparsePCA(n_components=k,
                                                                 random_state=0),
        "nimf SparsePCA": lambda: SparsePCA(n_components=k, random_state=0),
    }
    results = {}
    print(f"{'method':28s} {'time (s)':>9s} {'epochs':>7s} {'recovery':>9s} "
          f"{'held-out':>9s} {'zeros':>7s}")
    for name, make in runs.items():
        seconds, est = timed(make, X, args.repeats)
        V = est.components_
        row = dict(time=seconds, recovery=recovery(V, data.components),
                   residual=heldout_residual(V, data.X_test - est.mean_),
                   zeros=float(np.mean(V == 0)), n_iter=est.n_iter_)
        results[name] = row
        print(f"{name:28s} {seconds:9.3f} {row['n_iter']:7g} {row['recovery']:9.4f} "
              f"{row['residual']:9.4f} {row['zeros']:7.3f}")

    sk, ours = results["sklearn MiniBatchSparsePCA"], results["nimf SparsePCA"]
    speedup = sk["time"] / ours["time"]
    print(f"\nspeed-up of nimf over MiniBatchSparsePCA: {speedup:.1f}x")
    targets = {
        ">= 5x faster": speedup >= 5,
        "recovery >= 0.98": ours["recovery"] >= 0.98,
        "held-out residual no worse": ours["residual"] <= sk["residual"] + 1e-12,
        "components sparse (> 50% zeros)": ours["zeros"] > 0.5,
    }
    for what, met in targets.items():
        print(f"  {what:34s} {'met' if met else 'NOT met'}")
    return results


if __name__ == "__main__":
    main()
