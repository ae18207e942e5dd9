"""Data: a cached, checksum-verified download helper, and the data sets the course uses.

Every loader works offline: when a download is impossible it falls back to data this package
generates itself, and says so.
"""

from .chars import CharTokenizer, get_batch, token_batch_fn, train_val_split
from .download import ChecksumError, DataUnavailable, data_dirs, fetch, sha256_of
from .shakespeare import generate_play, load_tiny_shakespeare
from .points import *  # noqa: F403
from .digits import *  # noqa: F403
from .textcls import *  # noqa: F403
from .seq2seq import *  # noqa: F403

__all__ = [
    "CharTokenizer",
    "ChecksumError",
    "DataUnavailable",
    "data_dirs",
    "fetch",
    "generate_play",
    "get_batch",
    "load_tiny_shakespeare",
    "sha256_of",
    "token_batch_fn",
    "train_val_split",
]
