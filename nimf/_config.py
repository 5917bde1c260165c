"""Numba compilation flags, in one place.

Every kernel in :mod:`nimf._kernels` is compiled with these flags.  ``cache=True``
writes the compiled machine code next to the sources, so the compilation cost
(a few seconds per kernel and dtype) is paid once per installation, not once per
Python process.  Set the environment variable ``NIMF_NUMBA_CACHE=0`` to disable
the on-disk cache (for instance on a read-only installation).
"""

import os

NUMBA_CACHE = os.environ.get("NIMF_NUMBA_CACHE", "1") != "0"

# fastmath is off by default: the kernels are tested against NumPy references
# to tight tolerances, and reordering floating point reductions changes results
# at the rounding level.
JIT_KWARGS = dict(cache=NUMBA_CACHE, nogil=True, fastmath=False)

# The hot loops of the online learner (projections, the dictionary update) may
# reassociate sums, so that reductions vectorise and do not wait on one chain
# of additions (3-4x faster on whole-brain components).  NaN and infinity keep
# their meaning (no 'nnan'/'ninf'), and the result is still the same from run
# to run: only the order of the additions differs from the NumPy references.
JIT_FAST_KWARGS = dict(cache=NUMBA_CACHE, nogil=True,
                       fastmath={"reassoc", "contract", "nsz"})
