"""The data-sources layer: samplers, readers, prefetching and checkpoints."""
import os

import numpy as np
import pytest

from nimf.sources import (FeatureBlocks, PermutedFeatures, Prefetcher, RowBatches, as_source,
                          default_block_size, load_checkpoint, save_checkpoint,
                          step_generator)


# ---------------------------------------------------------------- sampling
@pytest.mark.parametrize("p,block,reduction", [(1000, 16, 4), (1003, 7, 12), (50, 1, 3),
                                               (300, 256, 2)])
def test_feature_blocks_partition_the_features(p, block, reduction):
    blocks = FeatureBlocks(p, block, reduction)
    sizes = np.diff(blocks.starts)
    assert blocks.starts[0] == 0 and blocks.starts[-1] == p
    assert np.all(sizes[:-1] == min(block, p)) and 0 < sizes[-1] <= min(block, p)
    assert blocks.n_draw == min(blocks.n_blocks, max(1, round(blocks.n_blocks / reduction)))
    assert blocks.scale == pytest.approx(blocks.n_blocks / blocks.n_draw)
    ids = blocks.draw(step_generator(0, 1))
    assert len(np.unique(ids)) == len(ids) == blocks.n_draw
    assert np.all(np.diff(ids) > 0)
    positions = blocks.positions(ids)
    expected = np.concatenate([np.arange(blocks.starts[i], blocks.starts[i + 1]) for i in ids])
    np.testing.assert_array_equal(positions, expected)
    starts, stops = blocks.ranges(ids)
    np.testing.assert_array_equal(
        np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)]), positions)
    assert np.all(starts[1:] > stops[:-1])  # adjacent blocks merged


def test_every_feature_is_drawn_with_the_same_probability():
    p, block, reduction, n_draws = 200, 8, 5, 6000
    blocks = FeatureBlocks(p, block, reduction)
    hits = np.zeros(p)
    for step in range(n_draws):
        hits[blocks.positions(blocks.draw(step_generator(3, step)))] += 1
    prob = blocks.n_draw / blocks.n_blocks
    assert prob == pytest.approx(1 / reduction, rel=0.01)
    sd = np.sqrt(n_draws * prob * (1 - prob))
    # binomial counts within 5 standard deviations, and the same for every
    # feature of a block (blocks are drawn whole)
    assert np.all(np.abs(hits - n_draws * prob) < 5 * sd)
    for i in range(blocks.n_blocks):
        assert len(set(hits[blocks.starts[i]:blocks.starts[i + 1]])) == 1


def test_full_blocks_when_not_subsampling():
    blocks = FeatureBlocks(100, 16, 1.0)
    assert blocks.full and blocks.scale == 1.0
    np.testing.assert_array_equal(blocks.positions(blocks.draw(None)), np.arange(100))


def test_default_block_size():
    assert default_block_size(235375) == 256
    assert default_block_size(20000) == 78
    assert default_block_size(100) == 1


@pytest.mark.parametrize("n,chunk,batch", [(100, 1, 10), (103, 8, 20), (30, 64, 50)])
def test_row_batches_visit_every_row_once(n, chunk, batch):
    plan = RowBatches(n, chunk, batch)
    for gen in (None, step_generator(1, 2)):
        order = plan.chunk_order(gen)
        rows = [plan.batch_rows(order, i) for i in range(plan.n_batches)]
        for r in rows:
            assert np.all(np.diff(r) > 0)
        np.testing.assert_array_equal(np.sort(np.concatenate(rows)), np.arange(n))
    # whole chunks: each batch is a union of chunk ranges
    b = plan.batch_rows(plan.chunk_order(step_generator(0, 0)), 0)
    chunks = np.unique(b // plan.row_chunk)
    assert b.size == sum(min(n, (c + 1) * plan.row_chunk) - c * plan.row_chunk for c in chunks)


def test_step_generators_are_pure_functions_of_their_keys():
    a = step_generator(5, 1, 7).random(3)
    np.testing.assert_array_equal(a, step_generator(5, 1, 7).random(3))
    assert not np.allclose(a, step_generator(5, 1, 8).random(3))
    assert not np.allclose(a, step_generator(6, 1, 7).random(3))


# ---------------------------------------------------------------- readers
@pytest.fixture
def matrix(rng):
    return rng.standard_normal((40, 90)).astype(np.float32)


def _check_reads(source, X):
    rows = np.array([0, 3, 4, 39])
    for cols in (np.array([1, 2, 50, 89]), np.array([89, 5, 40, 0, 6])):
        np.testing.assert_array_equal(source.read(rows, cols), X[np.ix_(rows, cols)])
    np.testing.assert_array_equal(source.read_rows(5, 12), X[5:12])
    np.testing.assert_array_equal(source.take_rows(rows), X[rows])
    blocks = list(source.iter_row_blocks(step=16))
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), X)
    assert [start for start, _ in blocks] == [0, 16, 32]


def test_array_and_memmap_sources_read_what_was_asked(matrix, tmp_path):
    _check_reads(as_source(matrix), matrix)
    path = tmp_path / "x.npy"
    np.save(path, matrix)
    mm = np.load(path, mmap_mode="r")
    source = as_source(mm)
    _check_reads(source, matrix)
    assert source.bytes_read > 0
    # integer data are read as float64
    ints = as_source((matrix * 10).astype(np.int32))
    assert ints.dtype == np.float64
    _check_reads(ints, (matrix * 10).astype(np.int32).astype(np.float64))


def test_zarr_and_dask_sources_read_what_was_asked(matrix):
    zarr = pytest.importorskip("zarr")
    da = pytest.importorskip("dask.array")
    z = zarr.create_array(store={}, shape=matrix.shape, chunks=(8, 16), dtype="float32")
    z[:] = matrix
    source = as_source(z)
    assert (source.row_chunk, source.feature_chunk) == (8, 16)
    _check_reads(source, matrix)
    d = da.from_array(matrix, chunks=(10, 30))
    source = as_source(d)
    assert source.row_chunk == 10
    _check_reads(source, matrix)


def test_blocks_with_nan_are_refused_when_read(matrix, tmp_path):
    bad = matrix.copy()
    bad[17, 3] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    source = as_source(np.load(path, mmap_mode="r"))
    source.read(np.array([0, 1]), np.array([3]))
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 16 to 17\)"):
        source.read(np.array([16, 17]), np.array([3, 4]))


def test_permuted_features_are_checked(matrix, rng):
    perm = rng.permutation(90)
    source = as_source(PermutedFeatures(matrix[:, perm], perm))
    np.testing.assert_array_equal(source.feature_order, perm)
    with pytest.raises(ValueError, match="permutation of range"):
        PermutedFeatures(matrix, np.arange(89))
    with pytest.raises(ValueError, match="permutation of range"):
        PermutedFeatures(matrix, np.zeros(90, dtype=int))
    with pytest.raises(ValueError, match="must be a 2D numpy array"):
        as_source([[1.0, 2.0]])


def test_prefetcher_keeps_order_and_raises_where_the_read_failed():
    seen = []

    def read(i):
        seen.append(i)
        if i == 3:
            raise RuntimeError("disk gone")
        return i * 10

    with Prefetcher(read, range(6)) as items:
        assert next(items) == 0
        assert next(items) == 10
        assert next(items) == 20
        with pytest.raises(RuntimeError, match="disk gone"):
            next(items)
    # read ahead by one item, not more
    assert max(seen) <= 4


# ---------------------------------------------------------------- checkpoints
def test_checkpoints_round_trip_and_replace_atomically(tmp_path):
    path = tmp_path / "ckpt"
    written = save_checkpoint(path, {"D": np.arange(6.0).reshape(2, 3)}, {"step": 3})
    assert written.endswith(".npz") and os.path.exists(written)
    arrays, meta = load_checkpoint(path)
    np.testing.assert_array_equal(arrays["D"], np.arange(6.0).reshape(2, 3))
    assert meta["step"] == 3
    save_checkpoint(path, {"D": np.zeros(2)}, {"step": 4})
    assert load_checkpoint(path)[1]["step"] == 4
    # no temporary file is left behind
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(ValueError, match="not a readable nimf checkpoint"):
        load_checkpoint(other)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        load_checkpoint(garbage)
    # an object array (a pickle inside the file) is never loaded
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __nimf_checkpoint__=np.frombuffer(b'{"format": "nimf-checkpoint", '
                                                          b'"version": 1}', dtype=np.uint8),
             evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):
        load_checkpoint(pickled)


def test_chunk_files_of_a_local_store_are_read_directly_and_once(matrix, tmp_path):
    zarr = pytest.importorskip("zarr")
    from nimf.sources.readers import _ChunkFiles
    z = zarr.create_array(store=str(tmp_path / "x.zarr"), shape=matrix.shape, chunks=(8, 16),
                          dtype="float32", compressors=zarr.codecs.BloscCodec(cname="lz4"))
    z[:] = matrix
    source = as_source(z)
    assert source._files is not None and not source.prefetch
    calls = []
    chunk = source._files.chunk
    source._files.chunk = lambda i, j: calls.append((i, j)) or chunk(i, j)
    rows = np.array([0, 2, 3, 5, 9, 17, 18, 19, 39])     # scattered within row chunks
    cols = np.arange(16, 48)                             # two whole column chunks
    np.testing.assert_array_equal(source.read(rows, cols), matrix[np.ix_(rows, cols)])
    # each needed chunk decoded once: row chunks 0, 1, 2, 4 x column chunks 1, 2
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 8
    _check_reads(source, matrix)
    # a damaged chunk file is an error naming the store
    import glob
    victim = sorted(glob.glob(str(tmp_path / "x.zarr" / "c" / "0" / "0")))[0]
    with open(victim, "r+b") as handle:
        handle.seek(10)
        handle.write(b"garbage")
    with pytest.raises(ValueError, match=r"chunk \(0, 0\) of .*x\.zarr.* cannot be decoded"):
        as_source(z).read(np.array([0]), np.array([0]))
    assert isinstance(_ChunkFiles.for_array(z, "X"), _ChunkFiles)


def test_planned_reads_fill_views_of_one_buffer(matrix, rng):
    source = as_source(matrix)
    reads = [(np.array([4, 1], dtype=np.int64), rng.permutation(matrix.shape[1])[:7]),
             (np.array([0], dtype=np.int64), np.arange(3, 9)),
             (np.array([2, 3, 5], dtype=np.int64), np.array([0]))]
    need = sum(len(r) * len(c) for r, c in reads)
    buffer = np.zeros(need, dtype=source.dtype)
    run, blocks = source.plan_reads(reads, buffer)
    assert source.bytes_read == 0
    assert run() is blocks
    for (rows, cols), block in zip(reads, blocks):
        np.testing.assert_array_equal(block, matrix[np.ix_(rows, cols)])
        assert np.shares_memory(block, buffer) and block.flags.c_contiguous
    # bytes are counted as the blocks are used, not when read ahead
    assert source.bytes_read == 0
    source.count(blocks[0])
    assert source.bytes_read == blocks[0].nbytes
    with pytest.raises(ValueError, match=f"buffer holds {need - 1} values, the reads need "
                                         f"{need}"):
        source.plan_reads(reads, buffer[:-1])
    # data converted or checked as read, and whole rows, are not planned
    assert as_source(matrix.astype(np.int32)).plan_reads(reads, buffer) is None
    assert source.plan_reads([(np.array([0]), None)], buffer) is None
