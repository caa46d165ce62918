"""A whole network's training step in compiled code: layers as nodes, chained.

Each layer that has a compiled form is a :class:`Node`: its forward and
backward pass, each one call that runs without the GIL (dense layers, stand-
alone activations, dropout, reshapes).  A :class:`Network` chains them: it
gathers the batch's rows, runs every node forward (adding up the penalties
that some nodes put on their activity), the loss and its gradient, every
node backward (each penalty's node adds its gradient), and applies the
optimizer's update to each parameter as soon as its last gradient is known,
while it is still in cache (or, where the nodes below go backward on one
thread, on the other thread beside them).  Between two
nodes it holds the GIL for a few C calls only; nothing goes back to Python.

Every array is checked, and kept alive, by ``nnfast.backend.cpu_network``;
the nodes and the network only keep their addresses.  The network owns the
buffers between nodes (each node's output and the gradient with respect to
it), sized for the largest batch so far.

Thread counts follow ``nnfast.backend.threads_for``: each loop asks
``_parallel.pxd`` with the plan of the current step (the thread cap, and
whether BLAS is held at one thread so that products may be shared out).
"""
from cython cimport floating
from cython.parallel cimport prange
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cimport numpy as cnp
import numpy as np

from _activations cimport ACT_IDENTITY, ACT_SOFTMAX, activation, backprop_activation
from _dropout cimport dropout, multiply
from _losses cimport (
    LOSS_BCE, LOSS_MSE, LOSS_XENT, LOSS_XENT_PROBS, label_outside, pointwise_loss, xent_labels,
    xent_probs,
)
from _parallel cimport elementwise_threads, product_threads, thread_plan
from _products cimport affine, backprop_affine

from _simd cimport nnf_simd_attach
from _updates cimport RULE_NONE, update

cnp.import_array()
nnf_simd_attach()


# --------------------------------------------------------------------- nodes
cdef class Node:
    """One layer's compiled forward and backward pass.

    Attributes
    ----------
    in_size, out_size : int
        Values per sample of the input and the output.
    alias : bool
        The output is the input itself, reshaped (no work either way).
    """
    def __cinit__(self, *args, **kwargs):
        self.keep = []

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        """``y`` (n, out_size) from ``x`` (n, in_size)."""
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        """Parameter gradients, and ``dx`` (n, in_size) unless NULL, from ``dy`` (n, out_size).

        ``dy`` may be overwritten.
        """
        return 0


cdef class ReshapeNode(Node):
    """A layer that only reshapes each sample (``Reshape``, ``Flatten``)."""

    def __init__(self, Py_ssize_t size, int itemsize):
        self.in_size = self.out_size = size
        self.itemsize = itemsize
        self.alias = True


cdef struct DenseBackward:
    # A dense node's backward pass, as data: its arrays, shapes and threads.
    char* x
    char* y
    char* dy
    char* dx
    char* w
    char* dw
    char* db
    int act, n_in, n_out, t_prod, t_elem
    bint transposed, add_w, add_b


cdef void dense_backward(const DenseBackward* d, Py_ssize_t n, floating* dy) noexcept nogil:
    """The activation's derivative (into ``dy``), then the weight, bias and input gradients."""
    if d.act != ACT_IDENTITY:
        backprop_activation(dy, <const floating*> d.y, dy, n, d.n_out, d.act, d.t_elem)
    backprop_affine(dy, <const floating*> d.x, <const floating*> d.w, <floating*> d.dw,
                    <floating*> d.db, <floating*> d.dx, d.transposed, d.add_w, d.add_b,
                    <int> n, d.n_in, d.n_out, d.t_prod)


cdef class DenseNode(Node):
    """``y = act(x @ op(W) + b)``: its forward pass in one call, its backward pass in another.

    Parameters
    ----------
    W : ndarray of shape (n_in, n_out), or (n_out, n_in) used transposed
    b : ndarray of shape (n_out,) or None
    dW, db : ndarray or None
        Where the gradients go; None when not wanted (a frozen layer).
    act : int
        Activation code, applied in place after the affine map.
    transposed : bool
        ``W`` is another layer's weights, used transposed (tied weights).
    add_w, add_b : bool
        Add to the gradient instead of writing it (shared weights).
    """
    cdef char* w
    cdef char* b
    cdef char* dw
    cdef char* db
    cdef int act, n_in, n_out
    cdef bint transposed, add_w, add_b

    def __init__(self, cnp.ndarray W, b, dW, db, int act, bint transposed, bint add_w,
                 bint add_b):
        self.keep = [W, b, dW, db]
        self.w, self.b, self.dw, self.db = address(W), address(b), address(dW), address(db)
        self.n_out = W.shape[0] if transposed else W.shape[1]
        self.n_in = W.shape[1] if transposed else W.shape[0]
        self.in_size, self.out_size = self.n_in, self.n_out
        self.itemsize = W.itemsize
        self.act, self.transposed, self.add_w, self.add_b = act, transposed, add_w, add_b

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        if self.itemsize == 4:
            self._forward(<const float*> x, <float*> y, n, plan)
        else:
            self._forward(<const double*> x, <double*> y, n, plan)
        return 0

    cdef void _forward(self, const floating* x, floating* y, Py_ssize_t n,
                       const thread_plan* plan) noexcept:
        cdef int t_prod = product_threads(plan, n, self.n_in, self.n_out)
        cdef int t_elem = elementwise_threads(plan, n * self.n_out)
        with nogil:
            affine(x, <const floating*> self.w, <const floating*> self.b, y, self.transposed,
                   <int> n, self.n_in, self.n_out, t_prod)
            if self.act != ACT_IDENTITY:
                activation(y, y, n, self.n_out, self.act, t_elem)

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef DenseBackward d
        self.describe(x, y, dy, dx, n, plan, &d)
        with nogil:
            if self.itemsize == 4:
                dense_backward(&d, n, <float*> dy)
            else:
                dense_backward(&d, n, <double*> dy)
        return 0

    cdef bint describe(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                       const thread_plan* plan, DenseBackward* d) noexcept:
        """Fill ``d`` for the backward pass; True when it runs on one thread throughout."""
        d.x, d.y, d.dy, d.dx = x, y, dy, dx
        d.w, d.dw, d.db = self.w, self.dw, self.db
        d.act, d.n_in, d.n_out = self.act, self.n_in, self.n_out
        d.transposed, d.add_w, d.add_b = self.transposed, self.add_w, self.add_b
        d.t_prod = product_threads(plan, n, self.n_in, self.n_out)
        d.t_elem = elementwise_threads(plan, n * self.n_out) if self.act != ACT_IDENTITY else 1
        return d.t_prod == 1 and d.t_elem == 1


cdef class ActivationNode(Node):
    """A stand-alone activation layer; softmax runs along the last axis, of ``last`` values."""
    cdef int act
    cdef Py_ssize_t last

    def __init__(self, Py_ssize_t size, Py_ssize_t last, int act, int itemsize):
        self.in_size = self.out_size = size
        self.act, self.last, self.itemsize = act, last, itemsize

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef Py_ssize_t cols = self.last if self.act == ACT_SOFTMAX else n * self.out_size
        cdef Py_ssize_t rows = n * self.out_size // cols
        cdef int t = elementwise_threads(plan, n * self.out_size)
        with nogil:
            if self.itemsize == 4:
                activation(<const float*> x, <float*> y, rows, cols, self.act, t)
            else:
                activation(<const double*> x, <double*> y, rows, cols, self.act, t)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef Py_ssize_t cols = self.last if self.act == ACT_SOFTMAX else n * self.out_size
        cdef Py_ssize_t rows = n * self.out_size // cols
        cdef int t = elementwise_threads(plan, n * self.out_size)
        if dx == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                backprop_activation(<const float*> dy, <const float*> y, <float*> dx, rows, cols,
                                    self.act, t)
            else:
                backprop_activation(<const double*> dy, <const double*> y, <double*> dx, rows,
                                    cols, self.act, t)
        return 0


cdef class DropoutNode(Node):
    """Dropout while training, the identity otherwise: inverted dropout, or masking noise.

    Parameters
    ----------
    size : int
    rate : float
    seed : int
    draws : ndarray of shape (1,), uint64
        The layer's count of masks drawn, shared with it (and so saved with
        the model); each training pass draws the next mask.
    itemsize : int
    rescale : bool
        Scale kept values by ``1 / (1 - rate)`` (``Dropout``), or keep them
        as they are (``MaskingNoise``).
    """
    cdef double rate
    cdef bint rescale
    cdef uint64_t seed
    cdef uint64_t* draws
    cdef object mask

    def __init__(self, Py_ssize_t size, double rate, uint64_t seed, cnp.ndarray draws,
                 int itemsize, bint rescale=True):
        self.in_size = self.out_size = size
        self.rate, self.seed, self.itemsize, self.rescale = rate, seed, itemsize, rescale
        self.keep = [draws]
        self.draws = <uint64_t*> cnp.PyArray_DATA(draws)
        self.mask = None

    cdef char* _mask(self, Py_ssize_t n):
        if self.mask is None or self.mask.shape[0] < n * self.out_size:
            self.mask = np.empty(n * self.out_size, np.float32 if self.itemsize == 4 else np.float64)
        return address(self.mask)

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef Py_ssize_t size = n * self.out_size
        cdef int t = elementwise_threads(plan, size)
        cdef char* mask
        if not training or self.rate == 0:
            if y != x:
                memcpy(y, x, size * self.itemsize)
            return 0
        mask = self._mask(n)
        with nogil:
            if self.itemsize == 4:
                dropout(<const float*> x, <float*> y, <float*> mask, size, self.rate,
                        self.rescale, self.seed, self.draws[0], t)
            else:
                dropout(<const double*> x, <double*> y, <double*> mask, size, self.rate,
                        self.rescale, self.seed, self.draws[0], t)
        self.draws[0] += 1
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef Py_ssize_t size = n * self.out_size
        cdef int t = elementwise_threads(plan, size)
        cdef char* mask = address(self.mask)
        if dx == NULL:
            return 0
        if self.rate == 0:
            memcpy(dx, dy, size * self.itemsize)
            return 0
        with nogil:
            if self.itemsize == 4:
                multiply(<const float*> dy, <const float*> mask, <float*> dx, size, t)
            else:
                multiply(<const double*> dy, <const double*> mask, <double*> dx, size, t)
        return 0


# ------------------------------------------------------------------- network
cdef enum:
    PIECE = 4096  # parameters per piece of an update shared out beside a backward pass


cdef struct Piece:
    # Elements ``start:start + size`` of update ``update``.
    int update
    Py_ssize_t start, size


cdef struct Update:
    # One parameter's optimizer step, applied after the backward pass of node ``node``.
    int node
    char* param
    char* grad
    char* state0
    char* state1
    Py_ssize_t size
    bint decay


cdef class Network:
    """A chain of nodes with a loss at the end: one training step per call.

    Parameters
    ----------
    nodes : list of Node
        At least one that is not an alias.
    loss : int
        0 for the cross-entropy (against labels or probabilities, by the
        targets' dtype), 2 for the binary cross-entropy, 3 for the squared
        error.
    fused_act : int
        The output activation folded into the loss (softmax or sigmoid; the
        last node then outputs logits), or -1.
    classes : int
        Classes of the cross-entropy (the last axis of the output; 1 for the
        other losses).
    stop : int
        Index of the lowest node the backward pass reaches (the first with
        something to learn); nodes below it need no gradient.
    need_dx : list of bool
        For each node, whether the gradient with respect to its input is needed.
    dtype : numpy dtype
        float32 or float64.
    """
    cdef readonly list nodes
    cdef int n_nodes, loss, fused_act, stop, itemsize
    cdef Py_ssize_t classes, in_size, out_size
    cdef list need_dx
    cdef object dtype
    cdef char** out_ptr         # per node: its output (the input itself for an alias)
    cdef char** grad_ptr        # per node: the gradient with respect to its output
    # Buffers, numpy arrays of ``capacity`` rows (their addresses are in the
    # pointers above).
    cdef list outputs, grads
    cdef object x_rows, label_rows, value_rows, probs
    cdef readonly Py_ssize_t capacity
    cdef Update* updates
    cdef int n_updates
    cdef int* pending           # updates whose gradients are in but which wait to run
    cdef Piece* pieces          # those updates cut into pieces (see ``overlap``)
    cdef DenseBackward* run     # per node: a dense node's backward pass, to run beside them
    # Run the waiting updates beside the single-threaded backward passes of
    # the dense nodes below (True), or each before the next node (False); the
    # results are the same.  ``overlapped``: the times the last step did.
    cdef public bint overlap_updates
    cdef readonly int overlapped
    cdef readonly object bound_state
    cdef readonly double penalty
    # The last step's logits, for output(): a fused softmax or sigmoid is applied
    # only when somebody asks for the probabilities (metrics do; training does not).
    cdef char* last_z
    cdef Py_ssize_t last_n
    cdef int last_threads
    cdef bint probs_fresh

    def __cinit__(self, list nodes, *args, **kwargs):
        self.out_ptr = <char**> PyMem_Malloc(max(1, len(nodes)) * sizeof(char*))
        self.grad_ptr = <char**> PyMem_Malloc(max(1, len(nodes)) * sizeof(char*))
        self.run = <DenseBackward*> PyMem_Malloc(max(1, len(nodes)) * sizeof(DenseBackward))
        if self.out_ptr == NULL or self.grad_ptr == NULL or self.run == NULL:
            raise MemoryError()
        self.updates = NULL
        self.pending = NULL
        self.pieces = NULL

    def __init__(self, list nodes, int loss, int fused_act, Py_ssize_t classes, int stop,
                 list need_dx, dtype):
        self.nodes = list(nodes)
        self.n_nodes = len(nodes)
        self.loss, self.fused_act, self.classes, self.stop = loss, fused_act, classes, stop
        self.need_dx = list(need_dx)
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.in_size = (<Node> nodes[0]).in_size
        self.out_size = (<Node> nodes[self.n_nodes - 1]).out_size
        self.capacity = 0
        self.n_updates = 0
        self.bound_state = None
        self.overlap_updates = True
        self.overlapped = 0

    def __dealloc__(self):
        PyMem_Free(self.out_ptr)
        PyMem_Free(self.grad_ptr)
        PyMem_Free(self.updates)
        PyMem_Free(self.pending)
        PyMem_Free(self.pieces)
        PyMem_Free(self.run)

    def reserve(self, Py_ssize_t n):
        """Buffers for batches of up to ``n`` rows (kept when they are large enough already)."""
        cdef int i
        cdef Node node
        if n <= self.capacity:
            return
        empty = lambda *shape: np.empty(shape, self.dtype)
        # Outputs: an alias's is its input's, wired at each step.
        self.outputs = [None if (<Node> node).alias else empty(n, (<Node> node).out_size)
                        for node in self.nodes]
        for i in range(self.n_nodes):
            self.out_ptr[i] = address(self.outputs[i])
        # Gradients: the loss writes the last node's; a node's backward pass
        # writes the one below it, which an alias hands down unchanged.
        self.grads = [empty(n, self.out_size)]
        self.grad_ptr[self.n_nodes - 1] = address(self.grads[0])
        for i in range(self.n_nodes - 1, 0, -1):
            node = <Node> self.nodes[i]
            if node.alias:
                self.grad_ptr[i - 1] = self.grad_ptr[i]
            elif self.need_dx[i]:
                grad = empty(n, node.in_size)
                self.grads.append(grad)
                self.grad_ptr[i - 1] = address(grad)
            else:
                self.grad_ptr[i - 1] = NULL
        self.x_rows = empty(n, self.in_size)
        self.label_rows = np.empty(n * (self.out_size // self.classes), np.intp)
        self.value_rows = empty(n, self.out_size)
        self.probs = empty(n, self.out_size) if self.fused_act != -1 else None
        self.capacity = n

    def output(self, Py_ssize_t n):
        """The output of the last step's ``n`` rows: ndarray of shape (n, out_size).

        Probabilities after a fused softmax or sigmoid (worked out from the
        logits at the first call after a step); a view, valid until the next
        step.
        """
        cdef int i = self.n_nodes - 1
        cdef Py_ssize_t m
        cdef char* probs
        if self.probs is not None:
            if n > self.last_n:
                raise ValueError(f"output: the last step had {self.last_n} rows, not {n}")
            if not self.probs_fresh:
                probs = address(self.probs)
                m = self.last_n
                with nogil:
                    if self.itemsize == 4:
                        self._probabilities(<float*> self.last_z, <float*> probs, m)
                    else:
                        self._probabilities(<double*> self.last_z, <double*> probs, m)
                self.probs_fresh = True
            return self.probs[:n]
        while self.outputs[i] is None:
            i -= 1
        return self.outputs[i][:n]

    def bind_updates(self, list entries, state=None):
        """Record each trained parameter's update: ``(node, param, grad, state0, state1, decay)``.

        ``node`` is the lowest node whose backward pass writes the gradient
        (the update waits for it); states are None where the rule keeps none.
        ``state`` is remembered as :attr:`bound_state`.
        """
        cdef int i
        PyMem_Free(self.updates)
        PyMem_Free(self.pending)
        PyMem_Free(self.pieces)
        n_pieces = sum(-(-entry[1].size // PIECE) for entry in entries)
        self.updates = <Update*> PyMem_Malloc(max(1, len(entries)) * sizeof(Update))
        self.pending = <int*> PyMem_Malloc(max(1, len(entries)) * sizeof(int))
        self.pieces = <Piece*> PyMem_Malloc(max(1, n_pieces) * sizeof(Piece))
        if self.updates == NULL or self.pending == NULL or self.pieces == NULL:
            raise MemoryError()
        self.keep = list(entries)
        for i, (node, param, grad, s0, s1, decay) in enumerate(entries):
            self.updates[i].node = node
            self.updates[i].param = address(param)
            self.updates[i].grad = address(grad)
            self.updates[i].state0 = address(s0)
            self.updates[i].state1 = address(s1)
            self.updates[i].size = param.size
            self.updates[i].decay = decay
        self.n_updates = len(entries)
        self.bound_state = state

    cdef list keep

    def step(self, cnp.ndarray x, rows, Py_ssize_t n, cnp.ndarray targets, int max_threads,
             Py_ssize_t min_work, Py_ssize_t elem_divisor, Py_ssize_t product_divisor,
             bint share_products, bint train=True, int rule=RULE_NONE,
             cnp.ndarray hyper=None, double weight_decay=0):
        """Forward pass, loss, backward pass and update on one batch; returns the summed loss.

        The penalties of the nodes' forward pass, already means over the
        batch, are left in :attr:`penalty` (not in the returned sum).

        Parameters
        ----------
        x : ndarray
            The batch itself (n, in_size) when ``rows`` is None, else every
            sample, of which the batch takes rows ``rows[0:n]``.
        rows : intp ndarray of shape (n,) or None
        n : int
            Rows in the batch, at most the capacity reserved.
        targets : ndarray
            intp labels (``out_size // classes`` per sample) or values
            (``out_size`` per sample), for the same rows as ``x``.
        max_threads, min_work, elem_divisor, product_divisor, share_products
            The thread plan (see ``_parallel.pxd``).
        train : bool
            False runs the forward pass and the loss only (dropout off).
        rule : int
            The update rule applied to every bound parameter (RULE_NONE: none).
        hyper : float64 ndarray
            The rule's scalars.
        weight_decay : float
            Applied to the parameters bound with ``decay``.

        Raises ``ValueError`` for a row index or label out of range, before
        anything is written.
        """
        cdef thread_plan plan
        cdef Py_ssize_t* row_ptr = NULL if rows is None else <Py_ssize_t*> cnp.PyArray_DATA(<cnp.ndarray> rows)
        cdef Py_ssize_t n_source = x.shape[0]
        cdef Py_ssize_t positions = self.out_size // self.classes
        cdef char* xp = <char*> cnp.PyArray_DATA(x)
        cdef char* tp = <char*> cnp.PyArray_DATA(targets)
        cdef bint labels = self.loss == LOSS_XENT and targets.dtype.kind != "f"
        cdef int loss_code = self.loss
        cdef Py_ssize_t bad = -1
        cdef size_t target_row
        cdef char* target_rows
        cdef bint same_rows
        if n > self.capacity:
            raise ValueError(f"the batch has {n} rows, more than the {self.capacity} reserved")
        plan.max_threads, plan.min_work = max_threads, min_work
        plan.elem_divisor, plan.product_divisor = elem_divisor, product_divisor
        plan.share_products = share_products
        if self.loss == LOSS_XENT and not labels:
            loss_code = LOSS_XENT_PROBS
        if row_ptr != NULL:
            with nogil:
                bad = label_outside(row_ptr, n, n_source)
            if bad != -1:
                raise ValueError(f"row index {row_ptr[bad]} is outside [0, {n_source})")
            # An autoencoder's targets are its inputs: their rows are gathered once.
            same_rows = not labels and tp == xp and self.out_size == self.in_size
            if not same_rows:
                target_rows = address(self.label_rows if labels else self.value_rows)
                target_row = (positions * sizeof(Py_ssize_t) if labels
                              else <size_t> self.out_size * self.itemsize)
                gather_rows(tp, row_ptr, n, target_row, target_rows,
                            elementwise_threads(&plan, n * self.out_size))
                tp = target_rows
            gather_rows(xp, row_ptr, n, <size_t> self.in_size * self.itemsize,
                        address(self.x_rows), elementwise_threads(&plan, n * self.in_size))
            xp = address(self.x_rows)
            if same_rows:
                tp = xp
        if labels:
            with nogil:
                bad = label_outside(<const Py_ssize_t*> tp, n * positions, self.classes)
            if bad != -1:
                raise ValueError(f"softmax_cross_entropy: label {(<const Py_ssize_t*> tp)[bad]} "
                                 f"is outside [0, {self.classes}) for logits with "
                                 f"{self.classes} classes")
        if self.itemsize == 4:
            return self._step(<float*> xp, n, loss_code, tp, &plan, train, rule, hyper,
                              weight_decay)
        return self._step(<double*> xp, n, loss_code, tp, &plan, train, rule, hyper,
                          weight_decay)

    cdef void _probabilities(self, floating* z, floating* probs, Py_ssize_t n) noexcept nogil:
        """The fused output activation of ``n`` rows of logits ``z`` into ``probs``."""
        if self.fused_act == ACT_SOFTMAX:
            activation(z, probs, n * (self.out_size // self.classes), self.classes, ACT_SOFTMAX,
                       self.last_threads)
        else:
            activation(z, probs, n, self.out_size, self.fused_act, self.last_threads)

    cdef double _step(self, floating* x, Py_ssize_t n, int loss_code, char* targets,
                      const thread_plan* plan, bint train, int rule, cnp.ndarray hyper,
                      double weight_decay) except? -1:
        cdef int i
        cdef Node node
        cdef char* inp = <char*> x
        cdef floating* z
        cdef floating* g
        cdef double loss = 0
        cdef Py_ssize_t size = n * self.out_size
        cdef Py_ssize_t positions = self.out_size // self.classes
        cdef int t_loss = elementwise_threads(plan, size)
        cdef double* h = NULL if hyper is None else <double*> cnp.PyArray_DATA(hyper)
        # Forward: an alias's output is its input.
        for i in range(self.n_nodes):
            node = <Node> self.nodes[i]
            if node.alias:
                self.out_ptr[i] = inp
            else:
                node.forward(inp, self.out_ptr[i], n, train, plan)
            inp = self.out_ptr[i]
        # The penalties the nodes add to the objective; each adds its own
        # gradient in its backward pass.
        self.penalty = 0
        for i in range(self.n_nodes):
            self.penalty += (<Node> self.nodes[i]).penalty
        # The loss and its gradient.
        z = <floating*> inp
        g = <floating*> self.grad_ptr[self.n_nodes - 1]
        self.last_z, self.last_n, self.last_threads = inp, n, t_loss
        self.probs_fresh = False
        with nogil:
            if loss_code == LOSS_XENT:
                loss = xent_labels(z, <const Py_ssize_t*> targets, g, n * positions, self.classes,
                                   t_loss)
            elif loss_code == LOSS_XENT_PROBS:
                loss = xent_probs(z, <const floating*> targets, g, n * positions, self.classes,
                                  t_loss)
            else:
                loss = pointwise_loss(loss_code, z, <const floating*> targets, g, size, t_loss)
        if not train:
            return loss
        self._backward(x, n, plan, rule, h, weight_decay)
        return loss

    cdef int _backward(self, floating* x, Py_ssize_t n, const thread_plan* plan, int rule,
                       const double* h, double weight_decay) except -1:
        """Every node backward, each parameter updated once its last gradient is in.

        An update waits until the next node.  Where that node and the ones
        below it are dense nodes whose backward pass runs on one thread (the
        small layers of an autoencoder's middle), the waiting updates run on
        the other thread meanwhile.
        """
        cdef int i = self.n_nodes - 1
        cdef int k, n_run, n_pieces
        cdef int n_pending = 0
        cdef Node node
        self.overlapped = 0
        while i >= self.stop:
            n_run = 0
            k = i
            # Only while BLAS is held at one thread: a product on the first
            # thread must not wake BLAS's own pool beside the second.
            if (n_pending > 0 and self.overlap_updates and plan.max_threads >= 2
                    and plan.share_products):
                while k >= self.stop:
                    node = <Node> self.nodes[k]
                    if not node.alias:
                        if not isinstance(node, DenseNode) or not (<DenseNode> node).describe(
                                <char*> x if k == 0 else self.out_ptr[k - 1], self.out_ptr[k],
                                self.grad_ptr[k], self.grad_ptr[k - 1] if k > 0 else NULL, n,
                                plan, &self.run[n_run]):
                            break
                        n_run += 1
                    k -= 1
            if n_run > 0:
                with nogil:
                    n_pieces = cut_pieces(self.updates, self.pending, n_pending, self.pieces)
                    overlap(self.run, n_run, n, self.updates, self.pieces, n_pieces, rule, h,
                            weight_decay, x)
                self.overlapped += 1
                n_pending = self._ready(k + 1, i, rule)
                i = k
                continue
            if n_pending > 0:
                self._apply(n_pending, rule, h, weight_decay, plan, x)
            node = <Node> self.nodes[i]
            if not node.alias:
                node.backward(<char*> x if i == 0 else self.out_ptr[i - 1], self.out_ptr[i],
                              self.grad_ptr[i], self.grad_ptr[i - 1] if i > 0 else NULL, n, plan)
            n_pending = self._ready(i, i, rule)
            i -= 1
        if n_pending > 0:
            self._apply(n_pending, rule, h, weight_decay, plan, x)
        return 0

    cdef int _ready(self, int lo, int hi, int rule) noexcept:
        """Make the updates of nodes ``lo..hi`` the waiting ones; their count."""
        cdef int j, n_pending = 0
        if rule == RULE_NONE:
            return 0
        for j in range(self.n_updates):
            if lo <= self.updates[j].node <= hi:
                self.pending[n_pending] = j
                n_pending += 1
        return n_pending

    cdef void _apply(self, int n_pending, int rule, const double* h, double weight_decay,
                     const thread_plan* plan, floating* marker) noexcept:
        """The waiting updates, one after the other, each with its own threads."""
        cdef int j
        cdef Update* u
        for j in range(n_pending):
            u = &self.updates[self.pending[j]]
            with nogil:
                update(rule, <floating*> u.param, <const floating*> u.grad,
                       <floating*> u.state0, <floating*> u.state1, u.size, h,
                       weight_decay if u.decay else 0.0, elementwise_threads(plan, u.size))


cdef int cut_pieces(const Update* updates, const int* pending, int n_pending,
                    Piece* pieces) noexcept nogil:
    """Cut the ``pending`` updates into pieces of at most PIECE elements; their number."""
    cdef int j, n_pieces = 0
    cdef Py_ssize_t start
    for j in range(n_pending):
        start = 0
        while start < updates[pending[j]].size:
            pieces[n_pieces].update = pending[j]
            pieces[n_pieces].start = start
            pieces[n_pieces].size = min(<Py_ssize_t> PIECE, updates[pending[j]].size - start)
            n_pieces += 1
            start += PIECE
    return n_pieces


cdef void overlap(const DenseBackward* run, int n_run, Py_ssize_t n, const Update* updates,
                  const Piece* pieces, int n_pieces, int rule, const double* h,
                  double weight_decay, floating* marker) noexcept nogil:
    """The backward passes of ``run`` on one thread, beside the updates' ``pieces``.

    Item 0 is the whole run; the other thread takes pieces meanwhile, and
    the first thread takes what is left once the run is done.  Neither reads
    what the other writes: a parameter's update waits for the lowest node
    that uses it.  The updates are elementwise, so their results do not
    depend on who runs which piece.
    """
    cdef int item, j
    cdef const Update* u
    cdef const Piece* q
    cdef Py_ssize_t start
    for item in prange(n_pieces + 1, num_threads=2, schedule="dynamic", chunksize=1):
        if item == 0:
            for j in range(n_run):
                dense_backward(&run[j], n, <floating*> run[j].dy)
        else:
            q = &pieces[item - 1]
            u = &updates[q.update]
            start = q.start
            update(rule, <floating*> u.param + start, <const floating*> u.grad + start,
                   <floating*> u.state0 + start if u.state0 != NULL else NULL,
                   <floating*> u.state1 + start if u.state1 != NULL else NULL, q.size, h,
                   weight_decay if u.decay else 0.0, 1)


cdef void gather_rows(const char* source, const Py_ssize_t* rows, Py_ssize_t n, size_t row_bytes,
                      char* out, int num_threads) noexcept:
    """Copy rows ``rows[0:n]`` of ``source`` (rows of ``row_bytes``) into ``out``.

    Rows picked at random from a large array come from main memory; two
    threads keep twice as many of those reads in flight.
    """
    cdef Py_ssize_t i
    with nogil:
        if num_threads <= 1:
            for i in range(n):
                memcpy(out + i * row_bytes, source + rows[i] * row_bytes, row_bytes)
        else:
            for i in prange(n, num_threads=num_threads, schedule="static"):
                memcpy(out + i * row_bytes, source + rows[i] * row_bytes, row_bytes)
