"""nimf's subsampled online dictionary learner against scikit-learn's.

Both run in this one process on the same planted-sparse-dictionary data
(default: 4000 samples x 20000 features, 20 components, SNR 1):

- scikit-learn ``MiniBatchDictionaryLearning(batch_size=50, max_iter=1)``;
- nimf ``OnlineDictionaryLearning(dict_l1_ratio=0.5)`` with its default
  parameters, at reduction 12 and at reduction 1.

For each fit it prints the time, the held-out residual (relative residual of
the least-squares fit of held-out samples on the learned components, against
the same quantity for the planted components: the best possible), the recovery
of the planted components (Hungarian-matched mean best |cosine|) and the
sparsity of the components; then the speed ratios and whether the targets of
the issue are met.  Timings are the best of ``--repeats`` runs.

    python benchmarks/bench_online_vs_sklearn.py [--repeats 3] [--dtype float64]
"""

import argparse

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning

from _common import heldout_residual, recovery, timed
from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import OnlineDictionaryLearning


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--n-features", type=int, default=20000)
    parser.add_argument("--n-components", type=int, default=20)
    parser.add_argument("--snr", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    k = args.n_components
    data = make_sparse_dictionary_data(args.n_samples, args.n_features, k, snr=args.snr,
                                       random_state=args.seed, dtype=np.dtype(args.dtype))
    X, X_test = data.X, data.X_test
    print(f"data: {X.shape[0]} x {X.shape[1]} ({X.dtype}), {k} planted sparse components, "
          f"SNR {args.snr:g}, {X_test.shape[0]} held-out samples")
    best = heldout_residual(data.components, X_test)
    print(f"best possible held-out residual (planted components): {best:.4f}\n")

    # compile nimf's kernels once, outside the timings (cached on disk after)
    OnlineDictionaryLearning(2, reduction=2, n_epochs=1).fit(X[:20, :50])

    runs = {
        "sklearn MiniBatchDictionaryLearning": lambda: MiniBatchDictionaryLearning(
            k, batch_size=50, max_iter=1, random_state=args.seed),
        "nimf reduction 12": lambda: OnlineDictionaryLearning(
            k, dict_l1_ratio=0.5, reduction=12, random_state=args.seed),
        "nimf reduction 1": lambda: OnlineDictionaryLearning(
            k, dict_l1_ratio=0.5, reduction=1, random_state=args.seed),
    }
    results = {}
    header = f"{'method':<38}{'time (s)':>10}{'residual':>10}{'gap':>8}{'recovery':>10}{'zeros':>8}"
    print(header)
    print("-" * len(header))
    for name, make in runs.items():
        elapsed, est = timed(make, X, args.repeats)
        res = heldout_residual(est.components_, X_test)
        rec = recovery(est.components_, data.components)
        zeros = float(np.mean(est.components_ == 0))
        results[name] = dict(time=elapsed, residual=res, recovery=rec)
        print(f"{name:<38}{elapsed:>10.2f}{res:>10.4f}{res - best:>8.4f}{rec:>10.3f}{zeros:>8.0%}")

    sk = results["sklearn MiniBatchDictionaryLearning"]
    r12 = results["nimf reduction 12"]
    r1 = results["nimf reduction 1"]
    speedup_sk = sk["time"] / r12["time"]
    speedup_red = r1["time"] / r12["time"]
    print()
    print(f"nimf reduction 12 vs scikit-learn: {speedup_sk:.1f}x faster")
    print(f"nimf reduction 12 vs reduction 1:  {speedup_red:.1f}x faster")
    checks = [
        ("reduction 12 at least 5x faster than scikit-learn", speedup_sk >= 5),
        ("held-out residual within 0.06 of the best possible", r12["residual"] - best <= 0.06),
        ("planted components recovered (>= 0.8)", r12["recovery"] >= 0.8),
        ("reduction 12 at least 6x faster than reduction 1", speedup_red >= 6),
    ]
    for label, ok in checks:
        print(f"  [{'met' if ok else 'NOT met'}] {label}")
    return results


if __name__ == "__main__":
    main()
