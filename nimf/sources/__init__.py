"""Where the rows of the array learners come from, block by block.

The layer between the compiled kernels and the algorithms: sources that read
blocks of rows and columns of numpy arrays, memory maps, zarr and dask arrays
and masked studies on disk (:mod:`.readers`), the samplers of feature blocks
and row chunks shared by data in memory and on disk (:mod:`.sampling`), a
reader thread that prefetches the next block, and atomic checkpoints
(:mod:`.checkpoint`).  Nothing here knows about an estimator.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .readers import (ArraySource, CenteredSource, DaskSource, PermutedFeatures, Prefetcher,
                      RowSubset, ZarrSource, as_source, check_finite_array,
                      is_large_input)
from .sampling import FeatureBlocks, RowBatches, default_block_size, step_generator

__all__ = ["ArraySource", "RowSubset", "DaskSource", "ZarrSource", "PermutedFeatures",
           "CenteredSource", "Prefetcher", "as_source", "check_finite_array", "is_large_input",
           "FeatureBlocks",
           "RowBatches",
           "default_block_size", "step_generator", "save_checkpoint", "load_checkpoint"]
