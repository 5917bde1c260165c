"""Compiled numba kernels: arrays in, arrays out.

No validation, no classes and no randomness of their own live here: callers
allocate outputs and pass random draws in.
"""
