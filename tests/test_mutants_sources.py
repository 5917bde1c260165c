"""The feature-block sampler and the row batches of nimf.sources, at their edges.

Written to kill the mutants of ``nimf/sources/sampling.py`` and
``nimf/sources/readers.py`` that the other tests let live
(``python tools/mutation.py nimf/sources/``).
"""

import numpy as np

from nimf.sources.sampling import FeatureBlocks, RowBatches


def test_positions_of_some_blocks_when_every_block_is_drawn():
    # reduction 1: every step draws all blocks, but positions() of a subset still
    # covers that subset only
    blocks = FeatureBlocks(10, 3, 1.0)
    assert blocks.full and blocks.n_blocks == 4
    np.testing.assert_array_equal(blocks.positions(np.array([0, 3])), [0, 1, 2, 9])
    np.testing.assert_array_equal(blocks.positions(np.arange(4)), np.arange(10))


def test_a_batch_smaller_than_half_a_chunk_takes_one_chunk():
    batches = RowBatches(100, 10, 4)
    assert batches.chunks_per_batch == 1 and batches.n_batches == 10
    np.testing.assert_array_equal(batches.batch_rows(np.arange(10), 3), np.arange(30, 40))
    # and rows of a last, shorter chunk
    short = RowBatches(25, 10, 4)
    np.testing.assert_array_equal(short.batch_rows(np.arange(3), 2), np.arange(20, 25))


def _store(tmp_path, X):
    import zarr

    z = zarr.create_array(store=str(tmp_path / "x.zarr"), shape=X.shape, chunks=(8, 16),
                          dtype="float32", compressors=zarr.codecs.BloscCodec(cname="lz4"))
    z[:] = X
    return z


def test_contiguous_rows_of_an_array_are_read_whole():
    from nimf.sources import as_source

    X = np.arange(60, dtype=np.float32).reshape(12, 5)
    source = as_source(X)
    np.testing.assert_array_equal(source.read(np.arange(3, 8), None), X[3:8])
    np.testing.assert_array_equal(source.read(np.array([4]), None), X[4:5])


def test_duplicate_rows_of_a_store_are_read_each_time(tmp_path):
    from nimf.sources import as_source

    X = np.random.default_rng(0).random((40, 48)).astype(np.float32)
    source = as_source(_store(tmp_path, X))
    rows = np.array([2, 2, 9, 17])
    np.testing.assert_array_equal(source.read(rows, None), X[rows])
    np.testing.assert_array_equal(source.read(rows, np.arange(16, 40)),
                                  X[np.ix_(rows, np.arange(16, 40))])


def test_reads_of_a_store_can_be_announced(tmp_path):
    from nimf.sources import as_source

    X = np.random.default_rng(1).random((40, 48)).astype(np.float32)
    source = as_source(_store(tmp_path, X))
    assert source._files is not None
    # a hint to the kernel: no result, no error, and the reads that follow are exact
    assert source.will_need(np.array([0, 9, 33]), np.array([1, 20, 47])) is None
    np.testing.assert_array_equal(source.read(np.array([0, 9, 33]), np.array([1, 20, 47])),
                                  X[np.ix_([0, 9, 33], [1, 20, 47])])


def test_a_row_subset_keeps_the_chunk_geometry_of_its_source(tmp_path):
    from nimf.sources import as_source
    from nimf.sources.readers import RowSubset

    X = np.random.default_rng(2).random((40, 48)).astype(np.float32)
    source = as_source(_store(tmp_path, X))
    subset = RowSubset(source, np.array([1, 8, 30]))
    assert (subset.row_chunk, subset.feature_chunk) == (8, 16) == (source.row_chunk,
                                                                    source.feature_chunk)
    assert subset.n_samples == 3 and subset.n_features == 48
    np.testing.assert_array_equal(subset.read_rows(0, 3), X[[1, 8, 30]])


def test_nan_in_a_row_past_the_number_of_columns_is_found():
    import pytest

    from nimf.sources.readers import check_finite_array

    X = np.ones((50, 4), dtype=np.float32)
    X[45, 2] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or infinite values \(in rows 45\)"):
        check_finite_array(X, "X")
