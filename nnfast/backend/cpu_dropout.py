"""Compiled dropout: masks drawn by ``nnfast._dropout``."""
import numpy as np

from .. import _dropout
from ._threads import elementwise_threads

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


class CpuDropoutOps:
    """Compiled override of :meth:`~nnfast.backend.ops_dropout.DropoutOps.dropout`.

    A mixin of ``CpuOps``.
    """

    def dropout(self, x, rate, seed, draw, out=None, mask_out=None):
        """Inverted dropout in one pass, from the compiled generator's stream ``(seed, draw)``.

        See Also
        --------
        nnfast.backend.ops_dropout.DropoutOps.dropout : parameters and return value.
        """
        dtype = x.dtype if type(x) is np.ndarray else None
        if (dtype not in (_F32, _F64) or x.size == 0 or not 0 <= rate < 1
                or any(a is not None and (type(a) is not np.ndarray or a.dtype != dtype
                                          or a.shape != x.shape or not a.flags.c_contiguous)
                       for a in (out, mask_out))
                or (mask_out is not None and np.may_share_memory(mask_out, x))
                or (out is not None and out is not x and np.may_share_memory(out, x))):
            return super().dropout(x, rate, seed, draw, out=out, mask_out=mask_out)
        x = np.ascontiguousarray(x)
        out = np.empty_like(x) if out is None else out
        mask = np.empty_like(x) if mask_out is None else mask_out
        _dropout.dropout(x.reshape(-1), out.reshape(-1), mask.reshape(-1), float(rate),
                         int(seed) % 2**64, int(draw) % 2**64, elementwise_threads(x.size))
        return out, mask
