"""Rating matrices: loaders, train/test splits and sparse user x item matrices."""

from .io import (load_movielens_100k, load_movielens_csv, load_movielens_dat,
                 load_ratings_csv, ratings_matrix, train_test_split_ratings)

__all__ = ["load_movielens_100k", "load_movielens_dat", "load_movielens_csv",
           "load_ratings_csv", "train_test_split_ratings", "ratings_matrix"]
