"""Compiled CPU versions of the restricted Boltzmann machine operations.

:class:`CpuRBMOps` overrides the hot paths of
:class:`~nnfast.backend.ops_rbm.RBMOps` with the kernels of ``nnfast._rbm_cd``
(mini-batch CD and PCD), ``nnfast._rbm_online`` (CD of one sample per update)
and ``nnfast._rbm_sampling`` (sampling, layer probabilities, Gibbs chains,
free energy), built from ``csrc/_rbm_*.pyx``.
Each override has the reference method's signature and returns what it
returns.  Before a kernel runs, the override checks in Python that

- every array is a numpy ``ndarray`` of one dtype, float32 or float64 (row
  indices: integers);
- arrays that are written (parameters, velocities, chains, ``out=``) are
  C-contiguous; inputs that are merely non-contiguous are copied;
- shapes agree; a mismatch raises ``ValueError`` naming the shapes.

Anything else (other dtypes, mixed dtypes, non-contiguous parameters, cupy
arrays) goes to the reference implementation.

The random draws of the compiled kernels come from xoshiro generators (one
stream per row of each sampling pass, so that a single-sample update draws
as the first row of a batch; see ``csrc/_rbm_common.pxd``), not from numpy: for a
given seed both backends are reproducible, whatever the number of threads,
but they draw different numbers.  Pass the uniforms explicitly to compare
them draw for draw.

Threads: the kernels share the rows of a batch out among their own OpenMP
threads, one BLAS call per block, inside :func:`~nnfast.backend.own_threads`
(BLAS held to one thread; models hold it around a whole ``fit``).  Where that
hold cannot be taken (no BLAS library that threadpoolctl can limit), every
kernel that calls BLAS runs on one thread and leaves BLAS its own threads.
The online rule (one sample per update) always runs on one thread.
"""
import numpy as np

from .. import _rbm_cd, _rbm_online, _rbm_sampling
from ._threads import get_num_threads, own_threads, products_on_own_threads, threads_for
from .ops_rbm import check_seed

def _row_threads(n_rows, n_visible, n_hidden):
    """Threads worth using for products of ``n_rows`` rows with the weights (at most 64).

    Each thread needs at least one row; below about 65,000 multiply-adds per
    thread, waking the threads costs more than it saves.  1 unless BLAS is
    held to one thread (:func:`~nnfast.backend.own_threads`): the kernels
    never call BLAS from several threads while it runs threads of its own.
    """
    if not products_on_own_threads():
        return 1
    return max(1, min(64, threads_for(n_rows * n_visible * n_hidden // 8), n_rows,
                      get_num_threads()))


def _update_threads(n_rows, n_chains, n_visible, n_hidden):
    """Threads for a CD update of ``n_rows`` data rows (``n_chains`` chain rows).

    """
    return _row_threads(max(n_rows, n_chains), n_visible, n_hidden)


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_INT_MAX = 2**31 - 1


def _dtype_of(*arrays):
    """The common float dtype of ``arrays`` (None entries ignored) when all are plain numpy arrays."""
    dtype = None
    for a in arrays:
        if a is None:
            continue
        if type(a) not in (np.ndarray, np.memmap) or a.dtype not in (_F32, _F64):
            return None
        if dtype is None:
            dtype = a.dtype
        elif a.dtype != dtype:
            return None
    return dtype


def _writable(*arrays):
    """True when every array that is not None is C-contiguous and writeable."""
    return all(a is None or (a.flags.c_contiguous and a.flags.writeable) for a in arrays)


def _c(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _shape(op, name, a, shape):
    if a.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected {tuple(shape)}")


def _params(op, W, b_vis, b_hid):
    if W.ndim != 2:
        raise ValueError(f"{op}: W must be 2-D of shape (n_hidden, n_visible), got shape {W.shape}")
    n_hidden, n_visible = W.shape
    _shape(op, "b_vis", b_vis, (n_visible,))
    _shape(op, "b_hid", b_hid, (n_hidden,))
    if W.size > _INT_MAX:
        raise ValueError(f"{op}: W has {W.size} elements, more than BLAS can index")
    return n_hidden, n_visible


def _rows(op, name, x, n_cols, col_name):
    if x.ndim != 2 or x.shape[1] != n_cols:
        raise ValueError(f"{op}: {name} must have shape (n_samples, {n_cols}) to match "
                         f"{col_name}, got shape {x.shape}")
    if x.shape[0] > _INT_MAX:
        raise ValueError(f"{op}: {name} has too many rows for BLAS")


def _seed_or_uniforms(op, seed, *uniforms):
    if any(u is None for u in uniforms):
        if seed is None:
            raise ValueError(f"{op}: pass either uniform draws or a seed")
        return check_seed(seed), None
    return 0 if seed is None else check_seed(seed), uniforms


class CpuRBMOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_rbm.RBMOps` (a mixin of ``CpuOps``).

    Anything the kernels cannot take falls back to the reference through
    ``super()``.
    """

    def sigmoid_bernoulli(self, pre, bias=None, uniform=None, seed=None, prob_out=None,
                          sample_out=None):
        dtype = _dtype_of(pre, bias, uniform, prob_out, sample_out)
        if dtype is None or pre.ndim != 2 or not _writable(prob_out, sample_out):
            return super().sigmoid_bernoulli(pre, bias=bias, uniform=uniform, seed=seed,
                                             prob_out=prob_out, sample_out=sample_out)
        op = "sigmoid_bernoulli"
        rows, cols = pre.shape
        if bias is None:
            bias = np.zeros(cols, dtype=dtype)
        _shape(op, "bias", bias, (cols,))
        key, given = _seed_or_uniforms(op, seed, uniform)
        if given is not None:
            _shape(op, "uniform", uniform, pre.shape)
            uniform = _c(uniform)
        prob = np.empty(pre.shape, dtype) if prob_out is None else prob_out
        sample = np.empty(pre.shape, dtype) if sample_out is None else sample_out
        _shape(op, "prob_out", prob, pre.shape)
        _shape(op, "sample_out", sample, pre.shape)
        _rbm_sampling.sigmoid_bernoulli(_c(pre), _c(bias), uniform, key, prob, sample,
                               threads_for(pre.size))
        return prob, sample

    def _sigmoid_affine(self, op, x, W, bias, trans_w, n_in, n_out, out, reference):
        dtype = _dtype_of(x, W, bias, out)
        if dtype is None or x.ndim != 2 or W.ndim != 2 or not _writable(out):
            return reference()
        _rows(op, "input", x, n_in, "W")
        _shape(op, "bias", bias, (n_out,))
        if out is None:
            out = np.empty((x.shape[0], n_out), dtype)
        _shape(op, "out", out, (x.shape[0], n_out))
        if np.may_share_memory(out, x):
            return reference()
        with own_threads():
            _rbm_sampling.sigmoid_affine(_c(x), _c(W), _c(bias), trans_w, out,
                                _row_threads(x.shape[0], n_in, n_out))
        return out

    def rbm_hidden_probs(self, v, W, b_hid, out=None):
        n_hidden, n_visible = W.shape if W.ndim == 2 else (0, 0)
        return self._sigmoid_affine(
            "rbm_hidden_probs", v, W, b_hid, True, n_visible, n_hidden, out,
            lambda: super(CpuRBMOps, self).rbm_hidden_probs(v, W, b_hid, out=out))

    def rbm_visible_probs(self, h, W, b_vis, out=None):
        n_hidden, n_visible = W.shape if W.ndim == 2 else (0, 0)
        return self._sigmoid_affine(
            "rbm_visible_probs", h, W, b_vis, False, n_hidden, n_visible, out,
            lambda: super(CpuRBMOps, self).rbm_visible_probs(h, W, b_vis, out=out))

    def rbm_free_energy(self, v, W, b_vis, b_hid, out=None):
        dtype = _dtype_of(v, W, b_vis, b_hid)
        if dtype is None or (out is not None and (
                type(out) is not np.ndarray or out.dtype != _F64 or not _writable(out))):
            return super().rbm_free_energy(v, W, b_vis, b_hid, out=out)
        op = "rbm_free_energy"
        n_hidden, n_visible = _params(op, W, b_vis, b_hid)
        _rows(op, "v", v, n_visible, "W")
        n = v.shape[0]
        if out is None:
            out = np.empty(n, np.float64)
        _shape(op, "out", out, (n,))
        pre = np.empty((n, n_hidden), dtype)
        with own_threads():
            _rbm_sampling.free_energy(_c(v), _c(W), _c(b_vis), _c(b_hid), pre, out,
                             _row_threads(n, n_visible, n_hidden))
        return out

    def rbm_gibbs(self, v, W, b_vis, b_hid, steps=1, seed=None, uniform_hid=None,
                  uniform_vis=None, out=None):
        dtype = _dtype_of(v, W, b_vis, b_hid, uniform_hid, uniform_vis, out)
        if dtype is None or not _writable(out):
            return super().rbm_gibbs(v, W, b_vis, b_hid, steps=steps, seed=seed,
                                     uniform_hid=uniform_hid, uniform_vis=uniform_vis, out=out)
        op = "rbm_gibbs"
        n_hidden, n_visible = _params(op, W, b_vis, b_hid)
        _rows(op, "v", v, n_visible, "W")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"{op}: steps must be a positive integer, got {steps!r}")
        n = v.shape[0]
        key, given = _seed_or_uniforms(op, seed, uniform_hid, uniform_vis)
        if given is not None:
            _shape(op, "uniform_hid", uniform_hid, (steps, n, n_hidden))
            _shape(op, "uniform_vis", uniform_vis, (steps, n, n_visible))
            uniform_hid, uniform_vis = _c(uniform_hid), _c(uniform_vis)
        if out is None:
            out = np.empty((n, n_visible), dtype)
        _shape(op, "out", out, (n, n_visible))
        v = _c(v)
        if np.may_share_memory(out, v):
            v = v.copy()
        hid = np.empty((n, n_hidden), dtype)
        hid_sample = np.empty((n, n_hidden), dtype)
        prob = np.empty((n, n_visible), dtype)
        with own_threads():
            _rbm_sampling.gibbs(v, _c(W), _c(b_vis), _c(b_hid), int(steps), uniform_hid, uniform_vis,
                       key, hid, hid_sample, prob, out, _row_threads(n, n_visible, n_hidden))
        return out, prob

    def rbm_workspace(self, n_samples, n_visible, n_hidden, n_chains=None, dtype="float32"):
        n_chains = n_samples if n_chains is None else n_chains
        rows = n_chains + n_samples
        return {
            "n_samples": n_samples, "n_chains": n_chains, "n_visible": n_visible,
            "n_hidden": n_hidden, "dtype": np.dtype(dtype),
            "V": np.zeros((rows, n_visible), dtype), "H": np.zeros((rows, n_hidden), dtype),
            "Hs": np.zeros((n_chains, n_hidden), dtype),
            "P": np.zeros((rows, n_visible), dtype),
            "coef": np.zeros(2 * rows, dtype),
        }

    def _workspace_for(self, workspace, n, m, n_visible, n_hidden, dtype):
        """``workspace`` when it fits batches of ``n`` rows and ``m`` chains, else a new one."""
        ws = workspace
        if (not ws or "V" not in ws or ws["dtype"] != dtype or ws["n_visible"] != n_visible
                or ws["n_hidden"] != n_hidden or ws["n_samples"] < n or ws["n_chains"] < m
                or ws["V"].shape[0] < n + m):
            ws = self.rbm_workspace(n, n_visible, n_hidden, n_chains=m, dtype=dtype)
        return ws

    def _check_update(self, op, W, b_vis, b_hid, lr, k, momentum, weight_decay, velocity, chain):
        n_hidden, n_visible = _params(op, W, b_vis, b_hid)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{op}: k must be a positive integer, got {k!r}")
        if momentum:
            if velocity is None or len(velocity) != 3:
                raise ValueError(f"{op}: momentum needs velocity=(vel_W, vel_vis, vel_hid)")
            for name, vel, param in zip(("vel_W", "vel_vis", "vel_hid"), velocity,
                                        (W, b_vis, b_hid)):
                _shape(op, name, vel, param.shape)
            velocity = tuple(velocity)
        else:
            velocity = (None, None, None)
        if chain is not None:
            _rows(op, "chain", chain, n_visible, "W")
            if chain.shape[0] == 0:
                raise ValueError(f"{op}: chain has no rows")
        return n_hidden, n_visible, velocity, float(lr), float(momentum), float(weight_decay)

    def rbm_cd_update(self, v0, W, b_vis, b_hid, lr, k=1, momentum=0.0, weight_decay=0.0,
                      velocity=None, chain=None, seed=None, step=0, uniform_hid=None,
                      uniform_vis=None, workspace=None):
        vel = tuple(velocity) if momentum and velocity is not None else ()
        dtype = _dtype_of(v0, W, b_vis, b_hid, chain, uniform_hid, uniform_vis, *vel)
        if dtype is None or not _writable(W, b_vis, b_hid, chain, *vel):
            return super().rbm_cd_update(
                v0, W, b_vis, b_hid, lr, k=k, momentum=momentum, weight_decay=weight_decay,
                velocity=velocity, chain=chain, seed=seed, step=step, uniform_hid=uniform_hid,
                uniform_vis=uniform_vis, workspace=workspace)
        op = "rbm_cd_update"
        n_hidden, n_visible, velocity, lr, momentum, weight_decay = self._check_update(
            op, W, b_vis, b_hid, lr, k, momentum, weight_decay, velocity, chain)
        _rows(op, "v0", v0, n_visible, "W")
        n = v0.shape[0]
        if n == 0:
            return 0.0
        m = n if chain is None else chain.shape[0]
        key, given = _seed_or_uniforms(op, seed, uniform_hid, uniform_vis)
        if given is not None:
            _shape(op, "uniform_hid", uniform_hid, (k, m, n_hidden))
            _shape(op, "uniform_vis", uniform_vis, (k, m, n_visible))
            uniform_hid, uniform_vis = _c(uniform_hid), _c(uniform_vis)
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"{op}: step must be a non-negative integer, got {step!r}")
        ws = self._workspace_for(workspace, n, m, n_visible, n_hidden, dtype)
        with own_threads():
            if n == 1 and chain is None:
                return _rbm_online.online_update(
                    _c(v0), W, b_vis, b_hid, lr, int(k), momentum, weight_decay, *velocity,
                    key, int(step), uniform_hid, uniform_vis, ws["V"], ws["P"])
            return _rbm_cd.cd_update(
                _c(v0), W, b_vis, b_hid, lr, int(k), momentum, weight_decay, *velocity, chain,
                key, int(step), uniform_hid, uniform_vis, ws["V"], ws["H"], ws["Hs"], ws["P"],
                ws["coef"], _update_threads(n, m, n_visible, n_hidden))

    def rbm_cd_epoch(self, X, order, W, b_vis, b_hid, lr, batch_size=1, k=1, momentum=0.0,
                     weight_decay=0.0, velocity=None, chain=None, seed=None, first_step=0,
                     workspace=None):
        vel = tuple(velocity) if momentum and velocity is not None else ()
        dtype = _dtype_of(X, W, b_vis, b_hid, chain, *vel)
        if dtype is None or not _writable(W, b_vis, b_hid, chain, *vel):
            return super().rbm_cd_epoch(
                X, order, W, b_vis, b_hid, lr, batch_size=batch_size, k=k, momentum=momentum,
                weight_decay=weight_decay, velocity=velocity, chain=chain, seed=seed,
                first_step=first_step, workspace=workspace)
        op = "rbm_cd_epoch"
        n_hidden, n_visible, velocity, lr, momentum, weight_decay = self._check_update(
            op, W, b_vis, b_hid, lr, k, momentum, weight_decay, velocity, chain)
        _rows(op, "X", X, n_visible, "W")
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1):
            raise ValueError(f"{op}: batch_size must be a positive integer, got {batch_size!r}")
        if seed is None:
            raise ValueError(f"{op}: seed is required")
        seed = check_seed(seed)
        if isinstance(first_step, bool) or not isinstance(first_step, (int, np.integer)) \
                or first_step < 0:
            raise ValueError(f"{op}: first_step must be a non-negative integer, got {first_step!r}")
        order = np.asarray(order)
        if order.ndim != 1 or (order.size and order.dtype.kind not in "iu"):
            raise ValueError(f"{op}: order must be a 1-D array of row indices, got "
                             f"shape {order.shape} and dtype {order.dtype}")
        if order.size == 0:
            return 0.0
        if order.min() < 0 or order.max() >= X.shape[0]:
            raise ValueError(f"{op}: order holds indices outside [0, {X.shape[0]})")
        order = np.ascontiguousarray(order, dtype=np.int64)
        n = min(int(batch_size), order.size)
        m = n if chain is None else chain.shape[0]
        ws = self._workspace_for(workspace, n, m, n_visible, n_hidden, dtype)
        with own_threads():
            if n == 1 and chain is None:
                return _rbm_online.online_epoch(
                    _c(X), order, W, b_vis, b_hid, lr, int(k), momentum, weight_decay,
                    *velocity, seed, int(first_step), ws["V"], ws["P"])
            return _rbm_cd.cd_epoch(
                _c(X), order, n, W, b_vis, b_hid, lr, int(k), momentum, weight_decay, *velocity,
                chain, seed, int(first_step), ws["V"], ws["H"], ws["Hs"], ws["P"], ws["coef"],
                _update_threads(n, m, n_visible, n_hidden))


__all__ = ["CpuRBMOps"]
