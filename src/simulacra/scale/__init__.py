"""Scale: samples of any size with bounded memory, and parallel work on Ray.

* :mod:`simulacra.scale.blocks`: a request is drawn in fixed sampling blocks with seeds derived from
  ``(seed, block)``, so its rows do not depend on how they are chunked, split or parallelised.
* :mod:`simulacra.scale.stream`: a request streamed to a file, an SQL table (one transaction) or a
  folder of Parquet parts.
* :mod:`simulacra.scale.distributed`: the parts written by Ray tasks (optional extra ``simulacra[ray]``).
"""

from simulacra.scale.blocks import BLOCK_ROWS, CHUNK_ROWS, BlockPlan, block_seed, iter_chunks, iter_rows
from simulacra.scale.stream import PART_ROWS, SampleOptions, Written, part_ranges, stream_sample, write_part

__all__ = [
    "BLOCK_ROWS",
    "CHUNK_ROWS",
    "PART_ROWS",
    "BlockPlan",
    "SampleOptions",
    "Written",
    "block_seed",
    "iter_chunks",
    "iter_rows",
    "part_ranges",
    "stream_sample",
    "write_part",
]
