"""Rating matrices: matrix completion, loaders, train/test splits and sparse user x item
matrices."""

from .io import (load_movielens_100k, load_movielens_csv, load_movielens_dat,
                 load_ratings_csv, ratings_matrix, train_test_split_ratings)

__all__ = ["MatrixCompletion", "load_movielens_100k", "load_movielens_dat", "load_movielens_csv",
           "load_ratings_csv", "train_test_split_ratings", "ratings_matrix"]


def __getattr__(name):
    # the estimator pulls in numba and scikit-learn: loaders alone stay light
    if name == "MatrixCompletion":
        from .completion import MatrixCompletion
        return MatrixCompletion
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
