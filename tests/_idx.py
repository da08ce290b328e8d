"""Write IDX files (MNIST's format) by the format's definition, for the data and CLI tests."""

import gzip
import struct

import numpy as np


def write_idx(path, array, type_code=0x08, compress=False):
    """Magic (two zero bytes, type code, ndim), big-endian uint32 dims, big-endian data."""
    array = np.asarray(array)
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    head = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    head += struct.pack(f">{array.ndim}I", *array.shape)
    content = head + array.astype(dtype).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as handle:
        handle.write(content)
    return path
