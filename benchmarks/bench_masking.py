"""nimf's per-subject masking and cleaning against nilearn's maskers.

Both run in this one process on the same synthetic studies, held in memory:

- volume: ``make_rest_study(n_subjects=5, n_scans=150, n_networks=16,
  resolution=4)`` (about 29,400 voxels), nilearn's
  ``MultiNiftiMasker(mask_img=..., smoothing_fwhm=4,
  standardize="zscore_sample", detrend=True).fit().transform(imgs)`` against
  ``[mask_and_clean(img, mask_img, same parameters) for img in imgs]``;
- surface: ``make_surface_rest_study(n_subjects=5, n_scans=150,
  n_networks=16)`` (fsaverage5), nilearn's ``SurfaceMasker`` (applied to each
  image) against ``surface_mask_and_clean``.

``standardize="zscore_sample"`` is what ``standardize=True`` means in nilearn
0.14 (where ``True`` emits a FutureWarning).  ``--files`` also times the volume study
read from uncompressed NIfTI files (scan-major arrays, the usual case of
real data) instead of images in memory.  ``--filter`` adds the
confounds and a 0.01-0.1 Hz band-pass filter (nilearn then filters one voxel
at a time: expect minutes).  For each it prints both times (best of
``--repeats``, after one warm-up call of each that also compiles or loads
nimf's kernels), their ratio and the largest absolute difference between the
outputs (nilearn's output is float32 for volumes, float64 for surfaces; nimf
computes in float32).

    python benchmarks/bench_masking.py [--repeats 3] [--files] [--filter]
"""

import argparse
import os
import tempfile
import time
import warnings

import nibabel as nib

import numpy as np
from nilearn.maskers import MultiNiftiMasker, SurfaceMasker

from nimf.datasets import make_rest_study, make_surface_rest_study
from nimf.neuro._signal import mask_and_clean, surface_mask_and_clean


def best_time(func, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def report(name, t_nilearn, t_nimf, ref, out):
    diff = max(float(np.abs(np.asarray(a, dtype=np.float64) - b).max())
               for a, b in zip(ref, out))
    scale = max(float(np.abs(a).max()) for a in ref)
    print(f"{name}: nilearn {t_nilearn:.3f} s, nimf {t_nimf:.3f} s, "
          f"ratio {t_nilearn / t_nimf:.1f}x, max |difference| {diff:.2e} "
          f"(max |nilearn| {scale:.2f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=5)
    parser.add_argument("--n-scans", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", action="store_true",
                        help="also time the volume study read from NIfTI files")
    parser.add_argument("--filter", action="store_true",
                        help="also regress the confounds and band-pass filter")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    params = dict(smoothing_fwhm=4, standardize="zscore_sample", detrend=True)

    study = make_rest_study(n_subjects=args.n_subjects, n_scans=args.n_scans,
                            n_networks=16, resolution=4, random_state=0)
    imgs, mask_img = study.func, study.mask_img
    confounds = [None] * len(imgs)
    if args.filter:
        params.update(low_pass=0.1, high_pass=0.01, t_r=study.t_r)
        confounds = study.confounds
    n_voxels = int((np.asarray(mask_img.dataobj) != 0).sum())
    print(f"volume study: {len(imgs)} subjects x {imgs[0].shape[3]} scans x "
          f"{n_voxels} voxels, {params}")

    def run_nilearn(imgs):
        masker = MultiNiftiMasker(mask_img=mask_img, **params).fit()
        return masker.transform(imgs, confounds=None if confounds[0] is None
                                else confounds)

    def run_nimf(imgs):
        return [mask_and_clean(img, mask_img, confounds=conf, **params)
                for img, conf in zip(imgs, confounds)]

    mask_and_clean(imgs[0], mask_img, confounds=confounds[0], **params)  # warm-up
    t_nilearn, ref = best_time(lambda: run_nilearn(imgs), args.repeats)
    t_nimf, out = best_time(lambda: run_nimf(imgs), args.repeats)
    report("volume (in memory)", t_nilearn, t_nimf, ref, out)
    if args.files:
        with tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, f"sub{i}.nii") for i in range(len(imgs))]
            for img, path in zip(imgs, paths):
                nib.save(img, path)
            mask_and_clean(paths[0], mask_img, confounds=confounds[0], **params)
            t_nilearn, ref = best_time(lambda: run_nilearn(paths), args.repeats)
            t_nimf, out = best_time(lambda: run_nimf(paths), args.repeats)
        report("volume (NIfTI files)", t_nilearn, t_nimf, ref, out)

    surface = make_surface_rest_study(n_subjects=args.n_subjects, n_scans=args.n_scans,
                                      n_networks=16, random_state=0)
    simgs, smask = surface.func, surface.mask_img
    sconfounds = surface.confounds if args.filter else [None] * len(simgs)
    n_vertices = sum(int(m.sum()) for m in smask.data.parts.values())
    print(f"surface study: {len(simgs)} subjects x {simgs[0].shape[1]} scans x "
          f"{n_vertices} vertices, {params}")

    def run_nilearn_surface():
        masker = SurfaceMasker(mask_img=smask, **params).fit()
        return [masker.transform(img, confounds=conf)
                for img, conf in zip(simgs, sconfounds)]

    def run_nimf_surface():
        return [surface_mask_and_clean(img, smask, confounds=conf, **params)
                for img, conf in zip(simgs, sconfounds)]

    surface_mask_and_clean(simgs[0], smask, confounds=sconfounds[0], **params)
    t_nilearn, ref = best_time(run_nilearn_surface, args.repeats)
    t_nimf, out = best_time(run_nimf_surface, args.repeats)
    report("surface", t_nilearn, t_nimf, ref, out)


if __name__ == "__main__":
    main()
