"""Compiled CPU versions of the dense-network operations.

:class:`CpuDenseOps` overrides the hot paths of
:class:`~nnfast.backend.ops_dense.DenseOps` with the kernels of
``nnfast._dense``.  Each override has the reference method's signature and
returns what it returns.  Before a kernel runs, the override checks in Python
that

- every array is a numpy ``ndarray`` of one dtype, float32 or float64;
- arrays written to (``out``, gradients, parameters, optimizer state) are
  C-contiguous and do not overlap the inputs, except as exactly the same
  array where that is safe: ``out`` may be ``z`` for activations and softmax,
  ``dy`` or ``y`` for :meth:`~CpuDenseOps.backprop_activation`, and a loss's
  ``grad_out`` may be its logits (or targets);
- shapes agree; a mismatch raises ``ValueError`` naming the shapes.

Inputs that are merely non-contiguous are copied; anything else the kernels
do not handle (other dtypes, mixed dtypes, empty arrays, subclasses of
``ndarray``) goes to the reference implementation, so results never depend on
which path ran.
"""
import numpy as np

from .. import _dense
from ._threads import own_threads, products_on_own_threads, threads_for
from .ops_dense import check_activation

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_INTP = np.dtype(np.intp)
_ndarray = np.ndarray
_empty = np.empty
_contiguous = np.ascontiguousarray
_overlap = np.may_share_memory
# BLAS takes its dimensions as C ints.
_INT_MAX = 2**31 - 1

#: While BLAS runs its own threads (outside :func:`~nnfast.backend.own_threads`),
#: the elementwise loops of this family ask :func:`~nnfast.backend.threads_for`
#: about their work divided by this factor, going parallel only where one
#: thread would need tens of milliseconds: an OpenMP team woken between two
#: products of BLAS's own pool makes each wait for the other's spinning
#: threads.
PARALLEL_WORK_DIVISOR = 1024


def _threads(work):
    """Threads for one of this family's elementwise loops over ``work`` elements."""
    return threads_for(work if products_on_own_threads() else work // PARALLEL_WORK_DIVISOR)


#: A multiply-add of a matrix product weighs this much less than an element
#: of an elementwise loop when asking :func:`~nnfast.backend.threads_for`
#: for threads.  Measured on 2 cores: sharing a float32 product between two
#: threads pays from about 2 million multiply-adds (32x256x256: 53 -> 38 us)
#: and costs below 1 million (32x64x64: 4 -> 8 us), where OpenBLAS's own
#: threading also stays on one thread.
PRODUCT_WORK_DIVISOR = 32


def _product_threads(m, n, k):
    """Threads for a matrix product of ``m * n * k`` multiply-adds.

    1 (one call, which BLAS may run on its own threads) unless BLAS is held
    to one thread by :func:`~nnfast.backend.own_threads`.
    """
    return threads_for(m * n * k // PRODUCT_WORK_DIVISOR) if products_on_own_threads() else 1


# Codes of the activations in nnfast._dense.
_ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4}


def _float_dtype(a, *others):
    """The dtype of ``a`` when it and ``others`` are plain numpy arrays of one float dtype, else None.

    Dtypes are compared by value, not identity: an array that was pickled
    or deep-copied carries an equal dtype object that is not numpy's own.
    """
    if type(a) is not _ndarray:
        return None
    dtype = a.dtype
    if dtype == _F32:
        dtype = _F32
    elif dtype == _F64:
        dtype = _F64
    else:
        return None
    for x in others:
        if type(x) is not _ndarray or x.dtype != dtype:
            return None
    return dtype


def _is_out(out, dtype):
    """True when ``out`` can be written by a kernel: a C-contiguous ndarray of ``dtype``."""
    return type(out) is _ndarray and out.dtype == dtype and out.flags.c_contiguous


def _c(x):
    """``x`` itself when C-contiguous, else a C-contiguous copy."""
    return x if x.flags.c_contiguous else _contiguous(x)


def _flat(x):
    """A 1-D view of the C-contiguous array ``x``."""
    return x if x.ndim == 1 else x.reshape(-1)


def _rows(x):
    """A 2-D view of the C-contiguous array ``x`` with its last axis as columns."""
    if x.ndim == 2:
        return x
    return x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1)


def _check_same_shape(op, name, x, ref_name, ref):
    if x.shape != ref.shape:
        raise ValueError(f"{op}: {name} has shape {x.shape} but {ref_name} has shape "
                         f"{ref.shape}; they must be equal")


def _check_out_shape(op, name, out, shape):
    if out.shape != shape:
        raise ValueError(f"{op}: {name} has shape {out.shape}, expected {shape}")


def _shares(out, *inputs):
    """True when ``out`` may overlap one of ``inputs`` (numpy's cheap bounds test)."""
    for x in inputs:
        if _overlap(out, x):
            return True
    return False


def _state_ok(op, dtype, param, grad, *state):
    """True when a compiled optimizer update can run; raises on mismatched shapes.

    ``state`` holds ``(name, array)`` pairs of optimizer state updated in place.
    """
    if dtype is None or param.size == 0:
        return False
    for name, x in (("grad", grad),) + state:
        if x.shape != param.shape:
            raise ValueError(f"{op}: {name} has shape {x.shape} but param has shape "
                             f"{param.shape}; they must be equal")
    if not param.flags.c_contiguous:
        return False
    for _, x in state:
        if not x.flags.c_contiguous:
            return False
    return True


def _pointwise_loss(op, name, kernel, x, targets, grad_out):
    """``(mean loss, gradient)`` of a loss taken element by element, or None.

    ``kernel`` is the compiled loss (``x`` and ``targets`` of one shape);
    None means the arrays are not for the kernels and the reference must run.
    """
    dtype = _float_dtype(x, targets)
    if dtype is None or x.size == 0 or (grad_out is not None and not _is_out(grad_out, dtype)):
        return None
    _check_same_shape(op, "targets", targets, name, x)
    if grad_out is None:
        grad_out = _empty(x.shape, dtype=dtype)
    else:
        _check_out_shape(op, "grad_out", grad_out, x.shape)
        if ((grad_out is not x and _overlap(grad_out, x))
                or (grad_out is not targets and _overlap(grad_out, targets))):
            return None
    total = kernel(_flat(_c(x)), _flat(_c(targets)), _flat(grad_out), _threads(x.size))
    return total / x.size, grad_out


class CpuDenseOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_dense.DenseOps`.

    A mixin: it is listed before :class:`~nnfast.backend.ops.Ops` in the
    bases of :class:`~nnfast.backend.cpu_ops.CpuOps`, and every method falls
    back to the reference through ``super()`` when the kernels cannot take
    the arguments as given.  Thread counts come from
    :func:`~nnfast.backend.threads_for`; inside
    :func:`~nnfast.backend.own_threads` (which every product enters) the
    matrix products run BLAS on one thread inside the kernels' own OpenMP
    team, otherwise BLAS picks its own threads (see
    :data:`PARALLEL_WORK_DIVISOR`).  The exponential and the optimizer
    updates with a square root per element run code compiled for the widest
    instruction set the CPU has (baseline x86-64, AVX2 or AVX-512, chosen at
    import by ``nnfast._dense.select_simd_kernels``).
    """

    # ----------------------------------------------------------------- products
    def gemm(self, a, b, out=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """``out = alpha * op(a) @ op(b) + beta * out`` in one BLAS call.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.gemm : parameters and return value.

        Notes
        -----
        A Fortran-ordered operand (such as ``x.T``) is passed to BLAS as the
        transpose of a C-ordered one rather than copied.  ``out`` must not
        overlap ``a`` or ``b`` for the compiled path (otherwise the reference
        runs).
        """
        dtype = _float_dtype(a, b)
        if (dtype is None or a.ndim != 2 or b.ndim != 2
                or (out is not None and not _is_out(out, dtype))):
            return super().gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b,
                                alpha=alpha, beta=beta)
        m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
        kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
        if k != kb:
            raise ValueError(
                f"gemm: a has shape {a.shape} but b has shape {b.shape} "
                f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)}): op(a) has {k} "
                f"columns but op(b) has {kb} rows")
        if out is None:
            out = _empty((m, n), dtype=dtype)
            beta = 0.0  # as in the reference, beta only scales an existing out
        else:
            _check_out_shape("gemm", "out", out, (m, n))
            if _shares(out, a, b):
                return super().gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b,
                                    alpha=alpha, beta=beta)
        if not (0 < m <= _INT_MAX and 0 < n <= _INT_MAX and 0 < k <= _INT_MAX):
            return super().gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b,
                                alpha=alpha, beta=beta)
        if not a.flags.c_contiguous:
            if a.flags.f_contiguous:
                a, trans_a = a.T, not trans_a
            else:
                a = _contiguous(a)
        if not b.flags.c_contiguous:
            if b.flags.f_contiguous:
                b, trans_b = b.T, not trans_b
            else:
                b = _contiguous(b)
        with own_threads():
            _dense.gemm(a, b, out, trans_a, trans_b, alpha, beta, _product_threads(m, n, k))
        return out

    def affine(self, x, w, b, out=None):
        """``out = x @ w + b``: the bias copied into ``out``, then one GEMM with beta 1.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.affine : parameters and return value.
        """
        dtype = _float_dtype(x, w, b)
        if (dtype is None or x.ndim != 2 or w.ndim != 2 or b.ndim != 1
                or (out is not None and not _is_out(out, dtype))):
            return super().affine(x, w, b, out=out)
        n_samples, n_in = x.shape
        if w.shape[0] != n_in:
            raise ValueError(f"affine: x has shape {x.shape} but w has shape {w.shape}; "
                             f"w must have {n_in} rows")
        n_out = w.shape[1]
        if b.shape[0] != n_out:
            raise ValueError(f"affine: w has shape {w.shape} but b has shape {b.shape}, "
                             f"expected ({n_out},)")
        if out is None:
            out = _empty((n_samples, n_out), dtype=dtype)
        else:
            _check_out_shape("affine", "out", out, (n_samples, n_out))
            if _shares(out, x, w, b):
                return super().affine(x, w, b, out=out)
        if not (0 < n_samples <= _INT_MAX and 0 < n_in <= _INT_MAX and 0 < n_out <= _INT_MAX):
            return super().affine(x, w, b, out=out)
        with own_threads():
            _dense.affine(_c(x), _c(w), _c(b), out, _product_threads(n_samples, n_in, n_out))
        return out

    def backprop_affine(self, dz, x, w, dw, db, dx=None):
        """``dw = x.T @ dz``, ``db = dz.sum(0)`` and ``dx = dz @ w.T`` in one compiled call.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.backprop_affine : parameters and return value.
        """
        dtype = _float_dtype(dz, x, w)
        want_dx = dx is not False
        if (dtype is None or dz.ndim != 2 or x.ndim != 2 or w.ndim != 2
                or not _is_out(dw, dtype) or not _is_out(db, dtype)
                or (want_dx and dx is not None and not _is_out(dx, dtype))):
            return super().backprop_affine(dz, x, w, dw, db, dx=dx)
        n_samples, n_out = dz.shape
        n_in = x.shape[1]
        if x.shape[0] != n_samples:
            raise ValueError(f"backprop_affine: dz has shape {dz.shape} but x has shape "
                             f"{x.shape}; they need the same number of rows")
        if w.shape != (n_in, n_out):
            raise ValueError(f"backprop_affine: w has shape {w.shape}, expected {(n_in, n_out)} "
                             f"for x of shape {x.shape} and dz of shape {dz.shape}")
        _check_out_shape("backprop_affine", "dw", dw, (n_in, n_out))
        _check_out_shape("backprop_affine", "db", db, (n_out,))
        if want_dx:
            if dx is None:
                dx = _empty((n_samples, n_in), dtype=dtype)
            else:
                _check_out_shape("backprop_affine", "dx", dx, (n_samples, n_in))
        if (not (0 < n_samples <= _INT_MAX and 0 < n_in <= _INT_MAX and 0 < n_out <= _INT_MAX)
                or _shares(dw, dz, x, w) or _shares(db, dz, x, w, dw)
                or (want_dx and _shares(dx, dz, x, w, dw, db))):
            return super().backprop_affine(dz, x, w, dw, db, dx=dx if want_dx else False)
        with own_threads():
            _dense.backprop_affine(_c(dz), _c(x), _c(w), dw, db, dx if want_dx else None,
                                   _product_threads(n_samples, n_in, n_out))
        return dx if want_dx else None

    def dense_stack(self, weights, biases, weight_grads, bias_grads, activations, loss,
                    fused):
        """A compiled training step for a stack of dense layers, or None.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.dense_stack : parameters and return value.
        nnfast.backend.cpu_dense_stack.CpuDenseStack : the step.

        Notes
        -----
        None (the layers then run one at a time) unless every array is a
        C-contiguous float32 or float64 numpy array of one dtype, the hidden
        activations are identity, sigmoid or relu, and the output layer's
        activation is one of those or is fused with the cross-entropy.
        """
        from .cpu_dense_stack import make_dense_stack

        return make_dense_stack(weights, biases, weight_grads, bias_grads, activations, loss,
                                fused)

    def sum_rows(self, x, out=None):
        """Column sums of ``x`` (the sum over samples), added row by row as numpy does.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.sum_rows : parameters and return value.
        """
        dtype = _float_dtype(x)
        if (dtype is None or x.ndim != 2 or x.size == 0
                or (out is not None and not _is_out(out, dtype))):
            return super().sum_rows(x, out=out)
        if out is None:
            out = _empty(x.shape[1], dtype=dtype)
        else:
            _check_out_shape("sum_rows", "out", out, (x.shape[1],))
            if _overlap(out, x):
                return super().sum_rows(x, out=out)
        _dense.sum_rows(_c(x), out)
        return out

    # -------------------------------------------------------------- activations
    def activation(self, z, name, out=None):
        """Apply the activation ``name`` to ``z`` in one pass (``out`` may be ``z`` itself).

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.activation : parameters and return value.

        Notes
        -----
        ``'tanh'`` runs numpy's ``np.tanh``, as the reference does: that is
        one pass already, vectorised for the machine it runs on.
        """
        check_activation(name)
        dtype = _float_dtype(z)
        if (name == "tanh" or dtype is None or z.ndim == 0 or z.size == 0
                or (out is not None and not _is_out(out, dtype))):
            return super().activation(z, name, out=out)
        if out is None:
            out = _empty(z.shape, dtype=dtype)
        else:
            _check_out_shape("activation", "out", out, z.shape)
            if out is not z and _overlap(out, z):
                return super().activation(z, name, out=out)
        _dense.activation(_rows(_c(z)), _rows(out), _ACTIVATION_CODES[name],
                          _threads(z.size))
        return out

    def backprop_activation(self, dy, y, name, out=None):
        """Gradient with respect to the pre-activation, in one pass (``out`` may be ``dy``).

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.backprop_activation : parameters and return value.
        """
        check_activation(name)
        dtype = _float_dtype(dy, y)
        if (dtype is None or dy.ndim == 0 or dy.size == 0
                or (out is not None and not _is_out(out, dtype))):
            return super().backprop_activation(dy, y, name, out=out)
        _check_same_shape("backprop_activation", "y", y, "dy", dy)
        if out is None:
            out = _empty(dy.shape, dtype=dtype)
        else:
            _check_out_shape("backprop_activation", "out", out, dy.shape)
            # Each element (each row for softmax) is read before it is written,
            # so out may be exactly dy or y but must not partly overlap them.
            if ((out is not dy and _overlap(out, dy))
                    or (out is not y and _overlap(out, y))):
                return super().backprop_activation(dy, y, name, out=out)
        _dense.backprop_activation(_rows(_c(dy)), _rows(_c(y)), _rows(out),
                                   _ACTIVATION_CODES[name], _threads(dy.size))
        return out

    def softmax(self, z, out=None):
        """Row-wise softmax of ``z``, shifted by each row's maximum (``out`` may be ``z``).

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.softmax : parameters and return value.
        """
        dtype = _float_dtype(z)
        if (dtype is None or z.ndim == 0 or z.size == 0
                or (out is not None and not _is_out(out, dtype))):
            return super().softmax(z, out=out)
        if out is None:
            out = _empty(z.shape, dtype=dtype)
        else:
            _check_out_shape("softmax", "out", out, z.shape)
            if out is not z and _overlap(out, z):
                return super().softmax(z, out=out)
        _dense.activation(_rows(_c(z)), _rows(out), _ACTIVATION_CODES["softmax"],
                          _threads(z.size))
        return out

    # -------------------------------------------------------------------- losses
    def softmax_cross_entropy(self, logits, targets, grad_out=None):
        """Mean softmax cross-entropy and its gradient in one pass over the logits.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.softmax_cross_entropy : parameters and return value.

        Notes
        -----
        Integer labels must lie in ``[0, n_classes)``; otherwise ``ValueError``
        is raised before anything is written (the kernel checks the range
        without the GIL).  ``grad_out`` may be ``logits`` itself.
        """
        dtype = _float_dtype(logits)
        if (dtype is None or logits.ndim != 2 or logits.size == 0
                or type(targets) is not _ndarray
                or (grad_out is not None and not _is_out(grad_out, dtype))):
            return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
        n_samples = logits.shape[0]
        if targets.ndim == 1:
            if targets.dtype.kind not in "iu":
                return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
            if targets.shape[0] != n_samples:
                raise ValueError(f"softmax_cross_entropy: targets has shape {targets.shape} "
                                 f"but logits has shape {logits.shape}; expected "
                                 f"({n_samples},) integer labels")
        elif targets.ndim == 2:
            if targets.dtype != dtype:
                return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
            _check_same_shape("softmax_cross_entropy", "targets", targets, "logits", logits)
        else:
            raise ValueError(f"softmax_cross_entropy: targets has shape {targets.shape}; "
                             f"expected ({n_samples},) labels or {logits.shape} probabilities")
        if grad_out is None:
            grad_out = _empty(logits.shape, dtype=dtype)
        else:
            _check_out_shape("softmax_cross_entropy", "grad_out", grad_out, logits.shape)
            if ((grad_out is not logits and _overlap(grad_out, logits))
                    or _overlap(grad_out, targets)):
                return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
        n_threads = _threads(logits.size)
        if targets.ndim == 1:
            if targets.dtype != _INTP or not targets.flags.c_contiguous:
                # Wider unsigned values wrap to negatives here and are rejected.
                targets = targets.astype(_INTP, order="C")
            total = _dense.softmax_cross_entropy_labels(_c(logits), targets, grad_out, n_threads)
        else:
            total = _dense.softmax_cross_entropy_probs(_c(logits), _c(targets), grad_out,
                                                       n_threads)
        return total / n_samples, grad_out

    def sigmoid_binary_cross_entropy(self, logits, targets, grad_out=None):
        """Mean binary cross-entropy of ``sigmoid(logits)`` and its gradient in one pass.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.sigmoid_binary_cross_entropy :
            parameters and return value.

        Notes
        -----
        ``targets`` must have the shape of ``logits`` (no broadcasting);
        ``grad_out`` may be ``logits`` or ``targets``.
        """
        result = _pointwise_loss("sigmoid_binary_cross_entropy", "logits",
                                 _dense.sigmoid_binary_cross_entropy, logits, targets, grad_out)
        if result is None:
            return super().sigmoid_binary_cross_entropy(logits, targets, grad_out=grad_out)
        return result

    def mean_squared_error(self, pred, targets, grad_out=None):
        """Mean squared error and its gradient in one pass.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.mean_squared_error : parameters and return value.

        Notes
        -----
        ``targets`` must have the shape of ``pred`` (no broadcasting);
        ``grad_out`` may be ``pred`` or ``targets``.
        """
        result = _pointwise_loss("mean_squared_error", "pred", _dense.mean_squared_error,
                                 pred, targets, grad_out)
        if result is None:
            return super().mean_squared_error(pred, targets, grad_out=grad_out)
        return result

    # --------------------------------------------------------------- optimizers
    # Each update is one pass over the parameter: weight decay, state update
    # and parameter update for an element happen together.  The parameter and
    # state arrays are updated in place, so they must be C-contiguous (the
    # reference runs otherwise); a non-contiguous gradient is copied.
    def sgd_update(self, param, grad, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        """Stochastic gradient descent step, with optional (Nesterov) momentum, in one pass.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.sgd_update : parameters.
        """
        if momentum == 0.0:
            dtype = _float_dtype(param, grad)
            state = ()
        else:
            dtype = _float_dtype(param, grad, velocity)
            state = (("velocity", velocity),)
        if not _state_ok("sgd_update", dtype, param, grad, *state):
            return super().sgd_update(param, grad, velocity, lr, momentum=momentum,
                                      nesterov=nesterov, weight_decay=weight_decay)
        _dense.sgd_update(_flat(param), _flat(_c(grad)),
                          None if momentum == 0.0 else _flat(velocity),
                          lr, momentum, nesterov, weight_decay, _threads(param.size))

    def adam_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """Adam step in one pass, with the bias corrections folded into two scalars.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.adam_update : parameters.
        """
        dtype = _float_dtype(param, grad, m, v)
        bias1 = 1.0 - beta1 ** step
        bias2 = 1.0 - beta2 ** step
        if (bias1 == 0.0 or bias2 == 0.0
                or not _state_ok("adam_update", dtype, param, grad, ("m", m), ("v", v))):
            return super().adam_update(param, grad, m, v, lr, beta1, beta2, eps, step,
                                       weight_decay=weight_decay)
        _dense.adam_update(_flat(param), _flat(_c(grad)), _flat(m), _flat(v), lr, beta1,
                           beta2, eps, bias1, bias2, weight_decay, _threads(param.size))

    def rmsprop_update(self, param, grad, sq, lr, rho, eps, weight_decay=0.0):
        """RMSprop step in one pass.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.rmsprop_update : parameters.
        """
        dtype = _float_dtype(param, grad, sq)
        if not _state_ok("rmsprop_update", dtype, param, grad, ("sq", sq)):
            return super().rmsprop_update(param, grad, sq, lr, rho, eps,
                                          weight_decay=weight_decay)
        _dense.rmsprop_update(_flat(param), _flat(_c(grad)), _flat(sq), lr, rho, eps,
                              weight_decay, _threads(param.size))

    def adagrad_update(self, param, grad, acc, lr, eps, weight_decay=0.0):
        """Adagrad step in one pass.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.adagrad_update : parameters.
        """
        dtype = _float_dtype(param, grad, acc)
        if not _state_ok("adagrad_update", dtype, param, grad, ("acc", acc)):
            return super().adagrad_update(param, grad, acc, lr, eps, weight_decay=weight_decay)
        _dense.adagrad_update(_flat(param), _flat(_c(grad)), _flat(acc), lr, eps,
                              weight_decay, _threads(param.size))

    def adadelta_update(self, param, grad, acc_grad, acc_delta, lr, rho, eps, weight_decay=0.0):
        """Adadelta step in one pass.

        See Also
        --------
        nnfast.backend.ops_dense.DenseOps.adadelta_update : parameters.
        """
        dtype = _float_dtype(param, grad, acc_grad, acc_delta)
        if not _state_ok("adadelta_update", dtype, param, grad,
                              ("acc_grad", acc_grad), ("acc_delta", acc_delta)):
            return super().adadelta_update(param, grad, acc_grad, acc_delta, lr, rho, eps,
                                           weight_decay=weight_decay)
        _dense.adadelta_update(_flat(param), _flat(_c(grad)), _flat(acc_grad),
                               _flat(acc_delta), lr, rho, eps, weight_decay,
                               _threads(param.size))
