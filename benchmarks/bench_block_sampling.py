"""Chunk-aware subsampling learns maps as good as voxel-level subsampling.

On the built-in volume study (default 5 subjects x 150 scans at 4 mm, 16 planted
networks), masked once into a study on disk (chunks of 64 scans x 256 voxels),
nimf's DictLearning learner is run from the same ICA start, the same seeds and
the same parameters, drawing at each step:

- whole voxel chunks of the study on disk (256 voxels each; what a fit from a
  ``MaskedStudy`` does);
- whole blocks of the in-memory layout (the default for images in memory);
- single voxels (``feature_block=1``: the sampling of the original algorithm);

and the recovery of the planted maps (Hungarian-matched mean |correlation|) is
printed for each, averaged over ``--seeds`` seeds.  Target: chunks within 0.01
of single voxels.

On the study a batch is made of whole scan chunks: the study stores the scans
of each subject in a random order, so that a chunk of consecutive rows is a
random sample of a subject's scans.  (Measured before that: with the scans in
time order, batches of 64 consecutive, autocorrelated scans cost 0.014 of
recovery, 0.919 against 0.933; voxel blocks alone cost 0.001-0.003.)

    python benchmarks/bench_block_sampling.py [--seeds 3]
"""

import argparse
import os
import tempfile

import numpy as np
from _common import matched_correlation

from nimf.datasets import make_rest_study
from nimf.neuro import DictLearning, mask_study


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    study = make_rest_study(n_subjects=5, n_scans=150, n_networks=16, resolution=4,
                            random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        stored = mask_study(study.func, os.path.join(tmp, "study.zarr"), mask=study.mask_img,
                            confounds=study.confounds, t_r=study.t_r, chunks=(64, 256))
        data = stored.__nimf_source__()
        in_memory = np.asarray(stored.read_rows(0, stored.n_scans, storage_order=True))
        from nimf.sources import PermutedFeatures

        layouts = {
            "chunks of the study (256 voxels)": (stored, "auto"),
            "blocks in memory": (PermutedFeatures(in_memory, stored.voxel_order,
                                                  checked=True), "auto"),
            "single voxels": (PermutedFeatures(in_memory, stored.voxel_order, checked=True),
                              1),
        }
        print(f"{stored!r}\n")
        scores = {name: [] for name in layouts}
        for seed in range(args.seeds):
            dl = DictLearning(n_components=16, random_state=seed)
            dl.fit(stored)  # sets the reduction, and gives the ICA start of this seed
            from nimf.decomposition._ica_start import ica_start

            start = ica_start(data, 16, dl._reduction(), seed)
            for name, (X, block) in layouts.items():
                est = dl._online_estimator(start)
                est.set_params(feature_block=block)
                est.fit(X)
                scores[name].append(matched_correlation(est.components_, study.maps))
        for name, values in scores.items():
            print(f"{name:<36} recovery {np.mean(values):.3f}  (seeds: "
                  f"{', '.join(f'{v:.3f}' for v in values)})")
        gap = np.mean(scores["single voxels"]) - np.mean(scores["chunks of the study (256 voxels)"])
        print(f"\n  [{'met' if gap <= 0.01 else 'NOT met'}] chunks within 0.01 of single voxels "
              f"(difference {gap:+.3f})")
    return scores


if __name__ == "__main__":
    main()
