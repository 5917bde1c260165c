"""The ``nimf`` command line.

``nimf demo`` runs nimf's main job on built-in data: it generates a matrix with
planted sparse components, learns them with the subsampled online dictionary
learner, and reports speed and recovery (and, with ``--out``, writes the
components and a figure).
"""

import argparse
import os
import sys
import time

import numpy as np


def _recovery(found, truth):
    from scipy.optimize import linear_sum_assignment

    f = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-300)
    t = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    sim = np.abs(t @ f.T)
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].mean()), cols


def _demo(args):
    from nimf.datasets import make_sparse_dictionary_data
    from nimf.decomposition import OnlineDictionaryLearning

    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise SystemExit(f"nimf demo: --out must be a directory, got the file {args.out!r}")
    print(f"Generating {args.n_samples} samples x {args.n_features} features with "
          f"{args.n_components} planted sparse components (SNR {args.snr:g})...")
    data = make_sparse_dictionary_data(args.n_samples, args.n_features, args.n_components,
                                       snr=args.snr, random_state=args.seed,
                                       dtype=np.float32)
    # compile the kernels on a tiny problem first so timings measure the work
    OnlineDictionaryLearning(2, reduction=2, n_epochs=1).fit(data.X[:20, :40])
    results = []
    for reduction in sorted({1.0, float(args.reduction)}):
        est = OnlineDictionaryLearning(args.n_components, dict_l1_ratio=0.5,
                                       reduction=reduction, random_state=args.seed,
                                       verbose=args.verbose)
        t0 = time.perf_counter()
        est.fit(data.X)
        elapsed = time.perf_counter() - t0
        rec, _ = _recovery(est.components_, data.components)
        score = est.score(data.X_test)
        results.append((reduction, elapsed, rec, score, est))
        print(f"  reduction {reduction:>4g}: {elapsed:6.2f} s, recovery of the planted "
              f"components {rec:.3f}, held-out explained energy {score:.3f}, "
              f"{np.mean(est.components_ == 0):.0%} zeros")
    if len(results) == 2:
        print(f"Subsampling made the fit {results[0][1] / results[1][1]:.1f}x faster.")
    if args.out is not None:
        os.makedirs(args.out, exist_ok=True)
        est = results[-1][4]
        _, order = _recovery(est.components_, data.components)
        np.save(os.path.join(args.out, "components.npy"), est.components_[order])
        np.save(os.path.join(args.out, "true_components.npy"), data.components)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        k = args.n_components
        fig, axes = plt.subplots(k, 1, figsize=(8, 0.8 * k + 1), sharex=True, squeeze=False)
        for j, ax in enumerate(axes[:, 0]):
            t = data.components[j] / np.abs(data.components[j]).max()
            c = est.components_[order[j]]
            c = c / max(np.abs(c).max(), 1e-300)
            c = c * np.sign(np.dot(c, t) or 1.0)
            ax.plot(t, color="0.6", lw=1, label="planted")
            ax.plot(c, color="C0", lw=1, label="learned")
            ax.set_yticks([])
        axes[0, 0].legend(loc="upper right", fontsize="small")
        axes[-1, 0].set_xlabel("feature")
        fig.suptitle("nimf demo: planted vs learned components")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "components.png"), dpi=100)
        plt.close(fig)
        print(f"Wrote components.npy, true_components.npy and components.png to {args.out}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nimf", description="Fast matrix factorization for neuroimaging and ratings.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="learn planted sparse components from generated data")
    demo.add_argument("--n-samples", type=int, default=4000)
    demo.add_argument("--n-features", type=int, default=20000)
    demo.add_argument("--n-components", type=int, default=20)
    demo.add_argument("--snr", type=float, default=1.0)
    demo.add_argument("--reduction", type=float, default=12.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=None, help="directory for the outputs")
    demo.add_argument("--verbose", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"nimf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
