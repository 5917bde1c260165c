"""
A study larger than memory: the chunked store, checkpoints and convergence
===========================================================================

A resting-state study of hundreds of subjects does not fit in memory. nimf
masks and cleans it once, subject by subject, into a chunked store on disk
(:func:`nimf.neuro.mask_study`, a zarr store), and its image estimators learn
from the store as they learn from images, reading only the chunks each step
needs. Long fits save their state as they go and resume after a crash, and
their held-out objective tells when to stop.

Everything here runs on a small generated study, so that the tutorial takes
seconds; the same calls run on a 60 GB study (see the user guide).
"""

# %%
# Mask a study into a store, one subject at a time
# ------------------------------------------------
# :func:`nimf.datasets.iter_rest_study` generates the subjects one at a time,
# as files read one by one would be: :func:`~nimf.neuro.mask_study` never holds
# more than a few of them in memory. The masking parameters (nilearn's) are
# stored with the study. One more subject goes into a second store, held out to
# measure convergence.
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nimf.datasets import iter_rest_study
from nimf.neuro import MaskedStudy, mask_study

folder = Path(tempfile.mkdtemp(prefix="nimf_large_study_"))
generated = iter_rest_study(n_subjects=4, n_scans=100, n_networks=8, resolution=6,
                            random_state=0)
# generated.func is a generator: each subject is simulated when mask_study asks for
# it, and its confounds are appended to generated.confounds at that moment
study = mask_study(generated.func, folder / "study.zarr", confounds=generated.confounds,
                   mask=generated.mask_img, t_r=generated.t_r)
# the fifth subject of the same study (same networks), held out
extra = iter_rest_study(n_subjects=5, n_scans=100, n_networks=8, resolution=6,
                        random_state=0, start=4)
heldout = mask_study(extra.func, folder / "heldout.zarr", confounds=extra.confounds,
                     mask=extra.mask_img, t_r=extra.t_r)
print(study)
print("chunks (scans, voxels):", study.chunks)

# %%
# A store is opened again by its path (in another session, on another machine
# that sees the same disk), and checks itself: every subject's scans carry a
# checksum.
study = MaskedStudy.open(folder / "study.zarr")
study.verify()
print("subjects:", [subject["name"] for subject in study.subjects])
assert study.n_scans == 400 and len(study.subjects) == 4

# %%
# Fit from the store
# ------------------
# The store replaces the images in ``fit``: the masking is the study's, done
# once (``masking_time_`` is 0). At each step the learner reads about one voxel
# chunk in ``reduction`` of the scans of its batch, and ``validation`` records
# the objective on the held-out subject as it goes (``history_``).
from nimf.assessment import match_components
from nimf.neuro import DictLearning

dict_learning = DictLearning(n_components=8, reduction=4, random_state=0)
dict_learning.fit(study, validation=heldout)
match = match_components(generated.maps, dict_learning.components_, metric="correlation")
print(f"fitted in {dict_learning.fit_time_:.2f} s (masking: {dict_learning.masking_time_} s); "
      f"recovery of the planted networks: {match.score:.3f}")
assert dict_learning.masking_time_ == 0
assert match.score > 0.85, match.score

# %%
# The time courses of the study's subjects come from the store too.
time_courses = dict_learning.transform(study)
print("time courses:", [tc.shape for tc in time_courses])
assert [tc.shape for tc in time_courses] == [(100, 8)] * 4

# %%
# Checkpoints and resuming
# ------------------------
# With ``checkpoint=path`` the learner's whole state is written to one file
# (atomically: a crash leaves the previous checkpoint or the new one) every
# ``checkpoint_every`` steps and when the fit stops. Here ``max_time`` stops the
# first fit almost at once, as a crash or the end of a cluster job's time would;
# ``resume=True`` continues from the checkpoint. The random draws of each step
# depend only on the seed and the step's number, so the resumed fit ends with
# the maps of an uninterrupted one.
checkpoint = folder / "dict_learning.npz"
params = dict(n_components=8, reduction=4, n_epochs=3, random_state=0,
              checkpoint=checkpoint, checkpoint_every=5)
interrupted = DictLearning(max_time=1e-9, **params).fit(study)
print("first fit stopped by:", interrupted.stop_reason_, "- checkpoint:",
      checkpoint.name, f"({checkpoint.stat().st_size // 1024} kB)")
resumed = DictLearning(resume=True, **params).fit(study)
print("resumed fit stopped by:", resumed.stop_reason_)
uninterrupted = DictLearning(n_components=8, reduction=4, n_epochs=3, random_state=0).fit(study)
difference = np.abs(resumed.components_ - uninterrupted.components_).max()
print(f"largest difference with the uninterrupted fit: {difference:.1e}")
assert interrupted.stop_reason_ == "max_time" and resumed.stop_reason_ == "n_epochs"
np.testing.assert_allclose(resumed.components_, uninterrupted.components_, rtol=1e-5, atol=1e-7)

# %%
# Convergence
# -----------
# How many passes are enough, and does subsampling pay? Fit with every voxel at
# each step (``reduction=1``) and with a quarter of them (``reduction=4``), and
# draw the held-out objective against the scans processed and against time
# (:func:`nimf.plotting.plot_convergence`; relative to the best value reached).
from nimf.plotting import plot_convergence

fits = [DictLearning(n_components=8, reduction=reduction, n_epochs=4, random_state=0).fit(
    study, validation=heldout) for reduction in (1, 4)]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
plot_convergence(fits, labels=["reduction 1", "reduction 4"], x="n_samples", ax=axes[0])
plot_convergence(fits, labels=["reduction 1", "reduction 4"], x="time", ax=axes[1])
fig.tight_layout()
for fit, reduction in zip(fits, (1, 4)):
    objective = np.asarray(fit.history_["objective"])
    print(f"reduction {reduction}: held-out objective {objective[0]:.4f} -> {objective[-1]:.4f} "
          f"in {len(objective)} records, {fit.fit_time_:.2f} s")
    # the held-out objective falls as the learner sees more scans
    assert objective[-1] < objective[0], objective

# %%
# On this small mask (8,721 voxels), reading every voxel is best even against
# time: a step costs little either way, and the subsampled learner needs more
# steps. Subsampling pays on whole-brain masks of 100,000 voxels and more, where
# a step at ``reduction=1`` is long (see the convergence figure of the 60 GB
# study in the user guide).
final = [fit.history_["objective"][-1] for fit in fits]
assert final[0] < final[1], final

# %%
# Clean up
# --------
# The stores and the checkpoint were written in a temporary folder.
shutil.rmtree(folder)

# %%
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"large_study_{number}.png", dpi=100)
    else:
        plt.show()
