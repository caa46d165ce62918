"""The compiled dense ops of the "cpu" backend against the numpy reference.

Every override of the compiled families (products, activations, losses,
optimizer updates: ``nnfast/backend/cpu_<family>.py``) is run next to the
reference :class:`~nnfast.backend.ops.Ops` on the same inputs.  A spy stands
in for each kernel module (``nnfast._products``, ...) so each test also knows
whether the compiled kernel ran or the call fell back to the reference.

How the cases are chosen
------------------------
A kernel test varies up to six factors: the dtype, the shape, the thread
split (the ``threads`` fixture: one thread, or OpenMP forced onto small
arrays), the instruction-set level of the exponential and optimizer kernels
(the ``simd`` fixture), the kernel's variant (activation, update rule,
transposes) and where the result goes (a new array, ``out=``, or in place
over an input).  Their full product runs the same code path many times over.
Each test instead crosses fully the factors that decide which loop runs over
which lengths: always the shape and the thread split (a kernel's own loops --
blocks of 512 for the exponential, whole rows for softmax -- meet the
16-element chunks of the threads only there), and the variant where it picks
a different loop (the activation, the transposes of a product, the SIMD
level of softmax's rows).  The other factors are spread over those cases by
:func:`cover` so that every pair of values of any two factors appears in at
least one case.  So every kernel runs in both dtypes, on one element, on a
single row, on odd lengths that leave vector tails, on lengths beyond one
block, on both thread paths, at every SIMD level the CPU has and with every
output mode, in a sixth of the cases of the full product.  The SIMD levels
have their own deeper tests (extreme values, accuracy over the exponent
range, baseline and AVX2 bit for bit), and so do the errors and the
fallbacks to the reference.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnfast.backend._threads as threads_module
from nnfast import _activations, _losses, _products, _simd, _updates
from nnfast.backend import cpu_activations, cpu_losses, cpu_products, cpu_updates, get_ops

CPU = get_ops("cpu")
REF = get_ops("numpy")
DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
SHAPES = [(1, 1), (1, 7), (13, 5), (127, 33), (300, 257), (2048, 40)]
ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "softmax"]


# ------------------------------------------------------------------ helpers
#: Factors that are fixtures taking their value through ``request.param``.
FIXTURE_FACTORS = ("threads", "simd")
SIMD_NAMES = {0: "baseline", 1: "avx2", 2: "avx512"}


def _case_id(name, value):
    if name == "simd":
        return SIMD_NAMES[value]
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, tuple):
        return ("x" if all(isinstance(v, int) for v in value) else ",").join(map(str, value))
    return str(value)


def cover(full, pairwise):
    """``pytest.mark.parametrize`` over all of ``full`` and a pairwise cover of ``pairwise``.

    Parameters
    ----------
    full : dict of str to list
        Factors crossed completely: every combination is a case.
    pairwise : dict of str to list
        Factors whose values are spread over those cases (more cases are
        added only where needed) so that every pair of values of two
        different factors, of either dict, appears together in some case.

    Returns
    -------
    pytest.MarkDecorator
        Parametrising the test's arguments named by both dicts; ``threads``
        and ``simd`` go to their fixtures.
    """
    values = {**full, **pairwise}
    names = list(values)

    def pairs_of(case):
        return {frozenset(pair) for pair in itertools.combinations(case.items(), 2)
                if pair[0][0] in pairwise or pair[1][0] in pairwise}

    wanted = set()
    for a, b in itertools.combinations(names, 2):
        if a in pairwise or b in pairwise:
            for i in range(len(values[a])):
                for j in range(len(values[b])):
                    wanted.add(frozenset([(a, i), (b, j)]))

    def complete(case):
        # Each open factor takes the value that meets the most pairs not yet covered.
        for name in names:
            if name not in case:
                case[name] = max(range(len(values[name])), key=lambda i: sum(
                    frozenset([(name, i), (other, j)]) in wanted for other, j in case.items()))
        wanted.difference_update(pairs_of(case))
        return case

    cases = [complete(dict(zip(full, combo)))
             for combo in itertools.product(*(range(len(v)) for v in full.values()))]
    while wanted:
        (a, i), (b, j) = sorted(min(wanted, key=sorted))
        cases.append(complete({a: i, b: j}))
    params = [pytest.param(*(values[n][case[n]] for n in names),
                           id="-".join(_case_id(n, values[n][case[n]]) for n in names))
              for case in cases]
    return pytest.mark.parametrize(names, params,
                                   indirect=[n for n in names if n in FIXTURE_FACTORS])


def assert_close(actual, expected, rtol=None, scale=None):
    """Equal to within ``rtol`` of each element, or of ``scale``.

    ``scale`` defaults to the largest element of ``expected``.
    """
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    rtol = RTOL[expected.dtype] if rtol is None else rtol
    if scale is None:
        scale = float(np.abs(expected).max(initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def assert_loss_close(actual, expected, dtype):
    assert isinstance(actual, float)
    assert actual == pytest.approx(expected, rel=RTOL[np.dtype(dtype)], abs=1e-30)


def normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


class KernelSpy:
    """Stands in for a kernel module and records, in ``calls``, the kernels that run."""

    def __init__(self, module, calls):
        self.module, self.calls = module, calls

    def __getattr__(self, name):
        kernel = getattr(self.module, name)

        def spy(*args):
            self.calls.append(name)
            return kernel(*args)

        return spy


@pytest.fixture
def kernels(monkeypatch):
    calls = []
    for family, name, module in ((cpu_products, "_products", _products),
                                 (cpu_activations, "_activations", _activations),
                                 (cpu_losses, "_losses", _losses),
                                 (cpu_updates, "_updates", _updates)):
        monkeypatch.setattr(family, name, KernelSpy(module, calls))
    return calls


@pytest.fixture(params=["serial", "parallel"])
def threads(request, monkeypatch):
    """Run the elementwise kernels on one thread, or force two on small arrays."""
    if request.param == "parallel":
        # threads_for divides by PARALLEL_MIN_WORK // 2, so 2 is the smallest
        # threshold it accepts.
        monkeypatch.setattr(threads_module, "PARALLEL_MIN_WORK", 2)
        monkeypatch.setattr(threads_module, "PRODUCT_WORK_DIVISOR", 1)
        monkeypatch.setitem(threads_module._state, "n_threads", 2)
        monkeypatch.setattr(threads_module, "PARALLEL_WORK_DIVISOR", 1)
        assert threads_module.elementwise_threads(64) == 2
    else:
        assert threads_module.elementwise_threads(64) == 1
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


# ------------------------------------------------------------------ products
GEMM_SIZES = [(1, 1, 1), (1, 7, 1), (1, 33, 65), (13, 5, 7), (127, 33, 65), (300, 257, 129),
              (2048, 40, 3)]


# The thread split of a product cuts rows of op(a) or columns of op(b), at an
# offset that depends on the transposes: those are crossed with the sizes.
@cover(full={"trans_a": [False, True], "trans_b": [False, True], "size": GEMM_SIZES,
             "threads": ["serial", "parallel"]},
       pairwise={"dtype": DTYPES})
def test_gemm_matches_reference(kernels, threads, rng, dtype, size, trans_a, trans_b):
    m, k, n = size
    a = normal(rng, (k, m) if trans_a else (m, k), dtype)
    b = normal(rng, (n, k) if trans_b else (k, n), dtype)
    got = CPU.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert kernels == ["gemm"]
    assert_close(got, REF.gemm(a, b, trans_a=trans_a, trans_b=trans_b))


@cover(full={"alpha_beta": [(1.0, 0.0), (-0.5, 0.0), (1.0, 1.0), (2.0, -0.25)]},
       pairwise={"transposes": [(False, False), (True, False), (False, True)],
                 "threads": ["serial", "parallel"], "dtype": DTYPES})
def test_gemm_alpha_beta_into_out(kernels, threads, rng, dtype, alpha_beta, transposes):
    (alpha, beta), (trans_a, trans_b) = alpha_beta, transposes
    m, k, n = 37, 19, 23
    a = normal(rng, (k, m) if trans_a else (m, k), dtype)
    b = normal(rng, (n, k) if trans_b else (k, n), dtype)
    out0 = normal(rng, (m, n), dtype)
    out = out0.copy()
    got = CPU.gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
    assert got is out
    assert kernels == ["gemm"]
    expected = REF.gemm(a, b, out=out0.copy(), trans_a=trans_a, trans_b=trans_b,
                        alpha=alpha, beta=beta)
    assert_close(out, expected)


def test_gemm_without_out_ignores_beta(rng):
    a, b = normal(rng, (4, 3), np.float32), normal(rng, (3, 5), np.float32)
    got = CPU.gemm(a, b, alpha=3.0, beta=7.0)
    assert_close(got, REF.gemm(a, b, alpha=3.0, beta=7.0))
    assert_close(got, 3.0 * (a @ b))


def test_gemm_beta_zero_overwrites_nan(rng):
    a, b = normal(rng, (6, 4), np.float64), normal(rng, (4, 5), np.float64)
    out = np.full((6, 5), np.nan)
    CPU.gemm(a, b, out=out)
    assert_close(out, a @ b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_fortran_ordered_operands_become_transposes(kernels, rng, dtype):
    a = np.asfortranarray(normal(rng, (31, 17), dtype))
    b = normal(rng, (23, 17), dtype).T  # F-ordered (17, 23)
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    got = CPU.gemm(a, b)
    assert kernels == ["gemm"]
    assert_close(got, REF.gemm(a, b))
    got = CPU.gemm(a, a, trans_a=True)  # a.T @ a, both operands F-ordered
    assert kernels == ["gemm", "gemm"]
    assert_close(got, REF.gemm(a, a, trans_a=True))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_strided_operands_are_copied(kernels, rng, dtype):
    big_a = normal(rng, (20, 30), dtype)
    big_b = normal(rng, (30, 40), dtype)
    a, b = big_a[::2, ::3], big_b[::3, 1::2]
    got = CPU.gemm(a, b)
    assert kernels == ["gemm"]
    assert_close(got, REF.gemm(a, b))


@pytest.mark.parametrize("trans_a, trans_b, a_shape, b_shape", [
    (False, False, (3, 4), (5, 2)),
    (True, False, (3, 4), (4, 2)),
    (False, True, (3, 4), (2, 5)),
])
def test_gemm_shape_mismatch_names_the_shapes(trans_a, trans_b, a_shape, b_shape):
    a, b = np.ones(a_shape, np.float32), np.ones(b_shape, np.float32)
    with pytest.raises(ValueError, match=rf"gemm: a has shape \({a_shape[0]}, {a_shape[1]}\) "
                                         rf"but b has shape \({b_shape[0]}, {b_shape[1]}\)"):
        CPU.gemm(a, b, trans_a=trans_a, trans_b=trans_b)


def test_gemm_out_shape_mismatch():
    a, b = np.ones((3, 4)), np.ones((4, 2))
    with pytest.raises(ValueError, match=r"gemm: out has shape \(2, 3\), expected \(3, 2\)"):
        CPU.gemm(a, b, out=np.empty((2, 3)))


@pytest.mark.parametrize("a_dtype, b_dtype", [(np.float32, np.float64), (np.int64, np.int64),
                                              (np.float64, np.float16)])
def test_gemm_other_dtypes_use_the_reference(kernels, rng, a_dtype, b_dtype):
    a = (normal(rng, (5, 4), np.float64) * 10).astype(a_dtype)
    b = (normal(rng, (4, 3), np.float64) * 10).astype(b_dtype)
    got = CPU.gemm(a, b)
    assert kernels == []
    expected = REF.gemm(a, b)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_gemm_out_of_another_dtype_or_layout_uses_the_reference(kernels, rng):
    a, b = normal(rng, (5, 4), np.float32), normal(rng, (4, 3), np.float32)
    out64 = np.zeros((5, 3))
    CPU.gemm(a, b, out=out64)
    out_f = np.zeros((5, 3), np.float32, order="F")
    CPU.gemm(a, b, out=out_f)
    assert kernels == []
    assert_close(out64, REF.gemm(a, b).astype(np.float64))
    assert_close(out_f, REF.gemm(a, b))


def test_gemm_out_overlapping_an_operand_uses_the_reference(kernels, rng):
    a = normal(rng, (6, 6), np.float64)
    b = normal(rng, (6, 6), np.float64)
    expected = REF.gemm(a, b)
    got = CPU.gemm(a, b, out=a)
    assert got is a
    assert kernels == []
    assert_close(a, expected)


def test_gemm_empty_dimensions_use_the_reference(kernels):
    a, b = np.ones((3, 0), np.float32), np.ones((0, 4), np.float32)
    out = np.full((3, 4), 2.0, np.float32)
    CPU.gemm(a, b, out=out, beta=0.5)
    assert kernels == []
    np.testing.assert_array_equal(out, np.full((3, 4), 1.0, np.float32))
    assert CPU.gemm(np.ones((0, 3)), np.ones((3, 2))).shape == (0, 2)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40),
       trans_a=st.booleans(), trans_b=st.booleans(),
       alpha=st.floats(-2, 2), beta=st.floats(-2, 2),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_gemm_random_shapes(m, k, n, trans_a, trans_b, alpha, beta, dtype, seed):
    rng = np.random.default_rng(seed)
    a = normal(rng, (k, m) if trans_a else (m, k), dtype)
    b = normal(rng, (n, k) if trans_b else (k, n), dtype)
    out0 = normal(rng, (m, n), dtype)
    got = CPU.gemm(a, b, out=out0.copy(), trans_a=trans_a, trans_b=trans_b,
                   alpha=alpha, beta=beta)
    expected = REF.gemm(a, b, out=out0.copy(), trans_a=trans_a, trans_b=trans_b,
                        alpha=alpha, beta=beta)
    # Cancellation in alpha * ab + beta * c: compare against the scale of the terms.
    product = REF.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    scale = abs(alpha) * np.abs(product).max() + abs(beta) * np.abs(out0).max()
    rtol = RTOL[np.dtype(dtype)]
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * max(scale, 1.0))


@cover(full={"shape": SHAPES, "threads": ["serial", "parallel"]}, pairwise={"n_out": [1, 10, 65], "dtype": DTYPES})
def test_affine(kernels, threads, rng, dtype, shape, n_out):
    x = normal(rng, shape, dtype)
    w = normal(rng, (shape[1], n_out), dtype)
    b = normal(rng, n_out, dtype)
    expected = REF.affine(x, w, b)
    assert_close(CPU.affine(x, w, b), expected)
    out = np.full((shape[0], n_out), np.nan, dtype)
    assert CPU.affine(x, w, b, out=out) is out
    assert_close(out, expected)
    assert kernels == ["affine", "affine"]


def test_affine_shape_mismatches():
    x, w, b = np.ones((4, 3)), np.ones((3, 2)), np.ones(2)
    with pytest.raises(ValueError, match=r"affine: x has shape \(4, 3\) but w has shape \(2, 2\)"):
        CPU.affine(x, np.ones((2, 2)), b)
    with pytest.raises(ValueError, match=r"affine: w has shape \(3, 2\) but b has shape \(3,\)"):
        CPU.affine(x, w, np.ones(3))
    with pytest.raises(ValueError, match=r"affine: out has shape \(2, 4\), expected \(4, 2\)"):
        CPU.affine(x, w, b, out=np.empty((2, 4)))


def test_affine_fallbacks_match_reference(kernels, rng):
    x, w = normal(rng, (6, 5), np.float32), normal(rng, (5, 4), np.float32)
    b64 = normal(rng, 4, np.float64)
    assert_close(CPU.affine(x, w, b64), REF.affine(x, w, b64))  # mixed dtypes
    b = b64.astype(np.float32)
    out = np.zeros((4, 6), np.float32).T  # not C-contiguous
    CPU.affine(x, w, b, out=out)
    assert_close(out, REF.affine(x, w, b))
    assert "affine" not in kernels
    x_strided = normal(rng, (6, 10), np.float32)[:, ::2]
    assert_close(CPU.affine(x_strided, w, b), REF.affine(x_strided, w, b))  # copied
    assert kernels[-1] == "affine"


@cover(full={"shape": SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"dx_mode": ["none", "out", "skip"], "dtype": DTYPES})
def test_backprop_affine(kernels, threads, rng, dtype, shape, dx_mode):
    n_samples, n_in = shape
    n_out = 9
    dz = normal(rng, (n_samples, n_out), dtype)
    x = normal(rng, shape, dtype)
    w = normal(rng, (n_in, n_out), dtype)
    ref_dw, ref_db = np.empty_like(w), np.empty(n_out, dtype)
    ref_dx = REF.backprop_affine(dz, x, w, ref_dw, ref_db)
    dw, db = np.full_like(w, np.nan), np.full(n_out, np.nan, dtype)
    dx_arg = {"none": None, "out": np.full_like(x, np.nan), "skip": False}[dx_mode]
    got = CPU.backprop_affine(dz, x, w, dw, db, dx=dx_arg)
    assert kernels == ["backprop_affine"]
    assert_close(dw, ref_dw)
    assert_close(db, ref_db)
    if dx_mode == "skip":
        assert got is None
    else:
        if dx_mode == "out":
            assert got is dx_arg
        assert_close(got, ref_dx)


def test_backprop_affine_shape_mismatches():
    dz, x, w = np.ones((4, 2)), np.ones((4, 3)), np.ones((3, 2))
    dw, db = np.empty((3, 2)), np.empty(2)
    with pytest.raises(ValueError, match=r"dz has shape \(4, 2\) but x has shape \(5, 3\)"):
        CPU.backprop_affine(dz, np.ones((5, 3)), w, dw, db)
    with pytest.raises(ValueError, match=r"w has shape \(2, 3\), expected \(3, 2\)"):
        CPU.backprop_affine(dz, x, np.ones((2, 3)), dw, db)
    with pytest.raises(ValueError, match=r"dw has shape \(2, 3\), expected \(3, 2\)"):
        CPU.backprop_affine(dz, x, w, np.empty((2, 3)), db)
    with pytest.raises(ValueError, match=r"db has shape \(3,\), expected \(2,\)"):
        CPU.backprop_affine(dz, x, w, dw, np.empty(3))
    with pytest.raises(ValueError, match=r"dx has shape \(4, 2\), expected \(4, 3\)"):
        CPU.backprop_affine(dz, x, w, dw, db, dx=np.empty((4, 2)))


def test_backprop_affine_fallbacks_match_reference(kernels, rng):
    dz, x = normal(rng, (7, 3), np.float32), normal(rng, (7, 5), np.float32)
    w = normal(rng, (5, 3), np.float32)
    ref_dw, ref_db = np.empty_like(w), np.empty(3, np.float32)
    ref_dx = REF.backprop_affine(dz, x, w, ref_dw, ref_db)
    dw = np.empty((3, 5), np.float32).T  # not C-contiguous
    db = np.empty(3, np.float32)
    dx = CPU.backprop_affine(dz, x, w, dw, db)
    assert_close(dw, ref_dw)
    assert_close(db, ref_db)
    assert_close(dx, ref_dx)
    # db sharing memory with dw's last row: written after dw, as in the reference.
    buf = np.empty(15, np.float32)
    dw2, db2 = buf.reshape(5, 3), buf[12:]
    CPU.backprop_affine(dz, x, w, dw2, db2, dx=False)
    assert_close(db2, ref_db)
    assert_close(dw2[:4], ref_dw[:4])
    assert "backprop_affine" not in kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES + [(5, 1000)])
def test_sum_rows(kernels, rng, dtype, shape):
    x = normal(rng, shape, dtype)
    expected = REF.sum_rows(x)
    assert_close(CPU.sum_rows(x), expected)
    out = np.full(shape[1], np.nan, dtype)
    assert CPU.sum_rows(x, out=out) is out
    assert_close(out, expected)
    assert kernels == ["sum_rows", "sum_rows"]


def test_sum_rows_adds_rows_in_numpys_order(rng):
    x = normal(rng, (1000, 33), np.float32)
    np.testing.assert_array_equal(CPU.sum_rows(x), x.sum(axis=0))


def test_sum_rows_errors_and_fallbacks(kernels, rng):
    with pytest.raises(ValueError, match=r"sum_rows: out has shape \(4,\), expected \(3,\)"):
        CPU.sum_rows(np.ones((2, 3)), out=np.empty(4))
    x = normal(rng, (6, 4), np.float64)
    assert_close(CPU.sum_rows(x[:, ::-1]), REF.sum_rows(x[:, ::-1]))  # copied
    assert kernels == ["sum_rows"]
    np.testing.assert_array_equal(CPU.sum_rows(x.astype(np.int64)),
                                  REF.sum_rows(x.astype(np.int64)))
    assert CPU.sum_rows(np.arange(4.0)) == 6.0  # 1-D: the reference's scalar
    assert kernels == ["sum_rows"]


# -------------------------------------------------------------- activations
@cover(full={"name": ACTIVATIONS, "shape": SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"out_mode": ["new", "out", "inplace"], "dtype": DTYPES})
def test_activation(kernels, threads, rng, dtype, shape, name, out_mode):
    z = normal(rng, shape, dtype, scale=3.0)
    expected = REF.activation(z, name)
    if out_mode == "new":
        got = CPU.activation(z, name)
    elif out_mode == "out":
        out = np.full_like(z, np.nan)
        assert CPU.activation(z, name, out=out) is out
        got = out
    else:
        z_in = z.copy()
        assert CPU.activation(z_in, name, out=z_in) is z_in
        got = z_in
    assert_close(got, expected)
    assert kernels == ["activation"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_is_within_a_few_ulps_of_numpys(simd, dtype):
    """Compiled tanh: the Taylor series up to 1/8, the exponential above, both near numpy's."""
    rng = np.random.default_rng(11)
    z = np.concatenate([rng.uniform(-0.2, 0.2, 4000), rng.normal(0, 4, 4000),
                        [0.0, -0.0, 0.125, -0.125, 1e-30, -1e-8, 30.0, -30.0, 1e4, -1e4]])
    z = z.astype(dtype).reshape(1, -1)
    got = CPU.activation(z, "tanh")
    exact = np.tanh(z.astype(np.float64))
    ulps = np.abs(got - exact) / np.spacing(np.abs(exact).astype(dtype))
    assert ulps.max() <= 4
    np.testing.assert_array_equal(np.signbit(got), np.signbit(z))
    special = np.array([[np.inf, -np.inf, np.nan]], dtype)
    np.testing.assert_array_equal(CPU.activation(special, "tanh"), [[1.0, -1.0, np.nan]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "softmax", "relu"])
def test_activation_extreme_values(kernels, simd, dtype, name):
    z = np.array([[-1000.0, -100.0, -88.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 88.0, 100.0, 1000.0],
                  [5.0, -1e4, 0.5, -0.5, 1e4, -5.0, 20.0, -20.0, 40.0, -40.0, 0.0]], dtype)
    got = CPU.activation(z, name)
    assert np.isfinite(got).all()
    assert_close(got, REF.activation(z, name))
    infinite = np.array([[np.inf, -np.inf, 0.0]], dtype)
    expected = {"sigmoid": [1.0, 0.0, 0.5], "relu": [np.inf, 0.0, 0.0],
                "softmax": [np.nan, np.nan, np.nan]}[name]  # inf - inf has no softmax
    np.testing.assert_array_equal(CPU.activation(infinite, name)[0], expected)
    assert kernels == ["activation", "activation"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_softmax_are_accurate_over_the_exponent_range(simd, dtype):
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    z = np.linspace(-100, 100, 200_000).astype(dtype)
    z64 = z.astype(np.float64)
    e = np.exp(-np.abs(z64))
    truth = np.where(z64 >= 0, 1 / (1 + e), e / (1 + e))
    got = CPU.activation(z.reshape(400, 500), "sigmoid").ravel()
    np.testing.assert_allclose(got, truth, rtol=4 * eps, atol=tiny)
    # Rows whose shifted values sweep the whole range of normal results.
    rows = np.linspace(-86, 0, 1000)[None, :] + np.linspace(-50, 50, 64)[:, None]
    rows = rows.astype(dtype)
    shifted = rows - rows.max(axis=1, keepdims=True)  # rounded as the kernel rounds it
    e = np.exp(shifted.astype(np.float64))
    np.testing.assert_allclose(CPU.softmax(rows), e / e.sum(axis=1, keepdims=True),
                               rtol=16 * eps, atol=tiny)


def test_activation_keeps_nan(simd, rng):
    z = normal(rng, (3, 20), np.float32)
    z[1, 4] = np.nan
    for name in ("sigmoid", "relu", "identity"):
        got = CPU.activation(z, name)
        assert np.isnan(got[1, 4])
        assert np.isfinite(np.delete(got.ravel(), 24)).all()
    assert np.isnan(CPU.softmax(z)[1]).all()
    assert np.isfinite(CPU.softmax(z)[[0, 2]]).all()


@pytest.mark.parametrize("name", ["sigmoid", "relu", "softmax", "identity"])
def test_activation_any_number_of_dimensions(kernels, rng, name):
    z = normal(rng, (3, 4, 5), np.float64)
    assert_close(CPU.activation(z, name), REF.activation(z, name))
    v = normal(rng, 9, np.float32)
    assert_close(CPU.activation(v, name), REF.activation(v, name))
    assert kernels == ["activation", "activation"]


def test_activation_errors_and_fallbacks(kernels, rng):
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        CPU.activation(np.ones((2, 2)), "gelu")
    with pytest.raises(ValueError, match=r"activation: out has shape \(3, 2\), expected \(2, 3\)"):
        CPU.activation(np.ones((2, 3)), "relu", out=np.empty((3, 2)))
    z = normal(rng, (4, 12), np.float32)
    strided = z[:, ::2]
    assert_close(CPU.activation(strided, "sigmoid"), REF.activation(strided, "sigmoid"))
    assert kernels == ["activation"]
    # out partly overlapping z: the reference handles the overlap.
    buf = normal(rng, 20, np.float32)
    expected = REF.activation(buf[:12].reshape(3, 4).copy(), "relu")
    CPU.activation(buf[:12].reshape(3, 4), "relu", out=buf[4:16].reshape(3, 4))
    assert_close(buf[4:16].reshape(3, 4), expected)
    out_f = np.empty((4, 12), np.float32, order="F")
    CPU.activation(z, "relu", out=out_f)
    assert_close(out_f, REF.activation(z, "relu"))
    z16 = z.astype(np.float16)
    assert CPU.activation(z16, "sigmoid").dtype == np.float16
    assert kernels == ["activation"]


@cover(full={"name": ACTIVATIONS, "shape": SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"out_mode": ["new", "dy", "y", "out"], "simd": [0, 1, 2], "dtype": DTYPES})
def test_backprop_activation(kernels, threads, simd, rng, dtype, shape, name, out_mode):
    y = REF.activation(normal(rng, shape, dtype, scale=2.0), name)
    if name == "relu":
        y[0, 0] = 0.0  # a unit sitting exactly at the kink
    dy = normal(rng, shape, dtype)
    expected = REF.backprop_activation(dy, y, name)
    dy_in, y_in = dy.copy(), y.copy()
    out = {"new": None, "dy": dy_in, "y": y_in, "out": np.full_like(dy, np.nan)}[out_mode]
    got = CPU.backprop_activation(dy_in, y_in, name, out=out)
    if out is not None:
        assert got is out
    assert kernels == ["backprop_activation"]
    assert_close(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backprop_relu_keeps_nan_behind_dead_units(simd, dtype):
    # 20 values: a whole vector of the widest kernel and a tail.
    dy = np.array([[np.nan, np.inf, 1.0, np.nan] * 5], dtype)
    y = np.array([[0.0, 0.0, 0.0, 2.0] * 5], dtype)
    got = CPU.backprop_activation(dy, y, "relu")
    with np.errstate(invalid="ignore"):  # inf * 0 is meant to be NaN here
        expected = REF.backprop_activation(dy, y, "relu")
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[0, [0, 1, 3]]).all() and got[0, 2] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_backprop_relu_at_the_edges_of_positive(simd, dtype):
    # The factor is chosen on the bits of y: -0, NaN of either sign and
    # negative values are not above 0; the least subnormal, the largest
    # finite value and +inf are.
    info = np.finfo(dtype)
    y = np.array([-0.0, 0.0, np.nan, -np.nan, -1.0, -np.inf, info.smallest_subnormal, info.max,
                  np.inf, 1.0, 0.5, -info.smallest_subnormal] * 2, dtype)[None]
    dy = np.full_like(y, 3.0)
    got = CPU.backprop_activation(dy, y, "relu")
    with np.errstate(invalid="ignore"):
        expected = dy * (y > 0)
    np.testing.assert_array_equal(got, expected)


def test_backprop_activation_errors_and_fallbacks(kernels, rng):
    with pytest.raises(ValueError, match=r"y has shape \(2, 4\) but dy has shape \(2, 3\)"):
        CPU.backprop_activation(np.ones((2, 3)), np.ones((2, 4)), "relu")
    with pytest.raises(ValueError, match="unknown activation"):
        CPU.backprop_activation(np.ones((2, 3)), np.ones((2, 3)), "swish")
    dy, y = normal(rng, (5, 8), np.float32), normal(rng, (5, 8), np.float64)
    assert_close(CPU.backprop_activation(dy, y, "tanh"), REF.backprop_activation(dy, y, "tanh"))
    assert kernels == []


# Softmax's rows go to the exponential kernel whole, so each row length meets
# each instruction set.
@cover(full={"shape": SHAPES, "simd": [0, 1, 2]}, pairwise={"threads": ["serial", "parallel"], "dtype": DTYPES})
def test_softmax(kernels, threads, simd, rng, dtype, shape):
    z = normal(rng, shape, dtype, scale=5.0)
    expected = REF.softmax(z)
    assert_close(CPU.softmax(z), expected)
    z_in = z.copy()
    assert CPU.softmax(z_in, out=z_in) is z_in
    assert_close(z_in, expected)
    np.testing.assert_allclose(z_in.sum(axis=1), 1.0, rtol=10 * RTOL[np.dtype(dtype)])
    assert kernels == ["activation", "activation"]


@settings(max_examples=60, deadline=None)
@given(z=hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=2, max_dims=2,
                                                               max_side=40),
                    elements=st.floats(-1e4, 1e4, width=32)),
       name=st.sampled_from(["identity", "sigmoid", "relu", "softmax"]))
def test_activation_and_backprop_random_values(z, name):
    expected = REF.activation(z, name)
    got = CPU.activation(z, name)
    assert_close(got, expected)
    dy = np.cos(z)  # any gradient, deterministic in z
    # Softmax's backprop cancels; its rounding error scales with |dy|, not the result.
    assert_close(CPU.backprop_activation(dy, expected, name),
                 REF.backprop_activation(dy, expected, name), scale=1.0)


# --------------------------------------------------------------------- losses
@cover(full={"shape": SHAPES + [(100, 10)], "threads": ["serial", "parallel"]},
       pairwise={"grad_mode": ["new", "out", "logits"], "simd": [0, 1, 2], "dtype": DTYPES})
def test_softmax_cross_entropy_labels(kernels, threads, simd, rng, dtype, shape, grad_mode):
    logits = normal(rng, shape, dtype, scale=4.0)
    labels = rng.integers(0, shape[1], shape[0])
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, labels)
    logits_in = logits.copy()
    grad_out = {"new": None, "out": np.full_like(logits, np.nan), "logits": logits_in}[grad_mode]
    loss, grad = CPU.softmax_cross_entropy(logits_in, labels, grad_out=grad_out)
    if grad_out is not None:
        assert grad is grad_out
    assert kernels == ["softmax_cross_entropy_labels"]
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.uint64, np.int16])
def test_softmax_cross_entropy_label_dtypes(kernels, rng, label_dtype):
    logits = normal(rng, (50, 7), np.float32)
    labels = rng.integers(0, 7, 50).astype(label_dtype)
    loss, grad = CPU.softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, labels)
    assert_loss_close(loss, ref_loss, np.float32)
    assert_close(grad, ref_grad)
    strided = np.repeat(labels, 2)[::2]
    assert_close(CPU.softmax_cross_entropy(logits, strided)[1], ref_grad)
    assert kernels == ["softmax_cross_entropy_labels"] * 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_extreme_logits(simd, dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0],
                       [-1000.0, -1000.0, -1000.0], [1e4, -1e4, 0.0]], dtype)
    labels = np.array([1, 2, 0, 0])
    loss, grad = CPU.softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, labels)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)
    targets = REF.softmax(np.array([[0.0, 1.0, 2.0]] * 4, dtype))
    loss, grad = CPU.softmax_cross_entropy(logits, targets)
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, targets)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)


@pytest.mark.parametrize("bad", [10, -1, 2**40])
def test_softmax_cross_entropy_rejects_labels_out_of_range(kernels, rng, bad):
    logits = normal(rng, (6, 10), np.float32)
    labels = np.array([0, 3, 9, bad, 1, 2])
    grad_out = np.full_like(logits, 7.0)
    with pytest.raises(ValueError, match=rf"label {bad} is outside \[0, 10\)"):
        CPU.softmax_cross_entropy(logits, labels, grad_out=grad_out)
    np.testing.assert_array_equal(grad_out, 7.0)  # nothing written
    before = logits.copy()
    with pytest.raises(ValueError, match="outside"):
        CPU.softmax_cross_entropy(logits, labels, grad_out=logits)
    np.testing.assert_array_equal(logits, before)
    assert kernels == ["softmax_cross_entropy_labels"] * 2


def test_softmax_cross_entropy_rejects_wrapped_unsigned_labels(rng):
    logits = normal(rng, (2, 4), np.float64)
    with pytest.raises(ValueError, match="outside"):
        CPU.softmax_cross_entropy(logits, np.array([1, 2**64 - 1], np.uint64))


@cover(full={"shape": SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"grad_mode": ["new", "out", "logits"], "simd": [0, 1, 2], "dtype": DTYPES})
def test_softmax_cross_entropy_probabilities(kernels, threads, simd, rng, dtype, shape, grad_mode):
    logits = normal(rng, shape, dtype, scale=3.0)
    targets = REF.softmax(normal(rng, shape, dtype, scale=2.0))
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, targets)
    logits_in = logits.copy()
    grad_out = {"new": None, "out": np.full_like(logits, np.nan), "logits": logits_in}[grad_mode]
    loss, grad = CPU.softmax_cross_entropy(logits_in, targets, grad_out=grad_out)
    assert kernels == ["softmax_cross_entropy_probs"]
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)


def test_softmax_cross_entropy_one_hot_targets_equal_labels(rng):
    logits = normal(rng, (40, 6), np.float64)
    labels = rng.integers(0, 6, 40)
    one_hot = np.eye(6)[labels]
    loss_l, grad_l = CPU.softmax_cross_entropy(logits, labels)
    loss_p, grad_p = CPU.softmax_cross_entropy(logits, one_hot)
    assert loss_p == pytest.approx(loss_l, rel=1e-13)
    assert_close(grad_p, grad_l)


def test_softmax_cross_entropy_errors_and_fallbacks(kernels, rng):
    logits = normal(rng, (4, 3), np.float32)
    with pytest.raises(ValueError, match=r"targets has shape \(5,\) but logits has shape \(4, 3\)"):
        CPU.softmax_cross_entropy(logits, np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"targets has shape \(4, 2\) but logits has shape"):
        CPU.softmax_cross_entropy(logits, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"grad_out has shape \(3, 4\), expected \(4, 3\)"):
        CPU.softmax_cross_entropy(logits, np.zeros(4, np.int64), grad_out=np.empty((3, 4), np.float32))
    targets64 = REF.softmax(normal(rng, (4, 3), np.float64))
    loss, grad = CPU.softmax_cross_entropy(logits, targets64)  # mixed dtypes
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, targets64)
    assert kernels == []
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close(grad, ref_grad)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), c=st.integers(1, 30), scale=st.floats(0.01, 2000.0),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_softmax_cross_entropy_random(n, c, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    logits = normal(rng, (n, c), dtype, scale=scale)
    labels = rng.integers(0, c, n)
    loss, grad = CPU.softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = REF.softmax_cross_entropy(logits, labels)
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)


@cover(full={"shape": SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"grad_mode": ["new", "out", "logits", "targets"], "simd": [0, 1, 2], "dtype": DTYPES})
def test_sigmoid_binary_cross_entropy(kernels, threads, simd, rng, dtype, shape, grad_mode):
    logits = normal(rng, shape, dtype, scale=4.0)
    targets = rng.random(shape).astype(dtype)
    ref_loss, ref_grad = REF.sigmoid_binary_cross_entropy(logits, targets)
    logits_in, targets_in = logits.copy(), targets.copy()
    grad_out = {"new": None, "out": np.full_like(logits, np.nan), "logits": logits_in,
                "targets": targets_in}[grad_mode]
    loss, grad = CPU.sigmoid_binary_cross_entropy(logits_in, targets_in, grad_out=grad_out)
    assert kernels == ["sigmoid_binary_cross_entropy"]
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_binary_cross_entropy_extremes(simd, dtype):
    logits = np.array([[1000.0, -1000.0, 30.0, -30.0, 0.0, 88.0, -88.0, 1e-4]], dtype)
    targets = np.array([[1.0, 0.0, 1.0, 0.0, 0.5, 0.0, 1.0, 1.0]], dtype)
    loss, grad = CPU.sigmoid_binary_cross_entropy(logits, targets)
    ref_loss, ref_grad = REF.sigmoid_binary_cross_entropy(logits, targets)
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)
    # Nearly perfect predictions: log1p(exp(-|z|)) must keep its few significant digits.
    z = np.linspace(5, 25, 64, dtype=dtype).reshape(8, 8)
    loss, _ = CPU.sigmoid_binary_cross_entropy(z, np.ones_like(z))
    truth = float(np.log1p(np.exp(-z.astype(np.float64))).mean())
    assert loss == pytest.approx(truth, rel=4 * float(np.finfo(dtype).eps))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_binary_cross_entropy_same_bits_at_every_simd_level(rng, dtype):
    # 1,100 values: two full blocks of the kernel and a tail that is not a
    # multiple of the 16 partial sums.
    logits = normal(rng, (1, 1100), dtype, scale=6.0)
    targets = rng.random((1, 1100)).astype(dtype)
    results = []
    for level in range(3):
        if _simd.select_simd_kernels(level) != level:
            continue
        try:
            results.append(CPU.sigmoid_binary_cross_entropy(logits, targets))
        finally:
            _simd.select_simd_kernels()
    for loss, grad in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])


def test_sigmoid_binary_cross_entropy_propagates_nan(simd):
    logits = np.array([[0.5, np.nan, -2.0]], np.float32)
    loss, grad = CPU.sigmoid_binary_cross_entropy(logits, np.full((1, 3), 0.5, np.float32))
    assert np.isnan(loss) and np.isnan(grad[0, 1]) and np.isfinite(grad[0, [0, 2]]).all()


def test_sigmoid_binary_cross_entropy_errors_and_fallbacks(kernels, rng):
    with pytest.raises(ValueError, match=r"targets has shape \(4,\) but logits has shape \(4, 1\)"):
        CPU.sigmoid_binary_cross_entropy(np.zeros((4, 1)), np.zeros(4))
    logits, targets = normal(rng, (5, 2), np.float32), rng.integers(0, 2, (5, 2))
    loss, grad = CPU.sigmoid_binary_cross_entropy(logits, targets)  # integer targets
    ref_loss, ref_grad = REF.sigmoid_binary_cross_entropy(logits, targets)
    assert "sigmoid_binary_cross_entropy" not in kernels
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close(grad, ref_grad)


@cover(full={"shape": SHAPES + [(17,), (3, 4, 5)], "threads": ["serial", "parallel"]},
       pairwise={"grad_mode": ["new", "out", "pred"], "simd": [0, 1, 2], "dtype": DTYPES})
def test_mean_squared_error(kernels, threads, simd, rng, dtype, shape, grad_mode):
    pred = normal(rng, shape, dtype)
    targets = normal(rng, shape, dtype)
    ref_loss, ref_grad = REF.mean_squared_error(pred, targets)
    pred_in = pred.copy()
    grad_out = {"new": None, "out": np.full_like(pred, np.nan), "pred": pred_in}[grad_mode]
    loss, grad = CPU.mean_squared_error(pred_in, targets, grad_out=grad_out)
    assert kernels == ["mean_squared_error"]
    assert_loss_close(loss, ref_loss, dtype)
    assert_close(grad, ref_grad)


def test_mean_squared_error_errors_and_fallbacks(kernels, rng):
    with pytest.raises(ValueError, match=r"targets has shape \(3,\) but pred has shape \(3, 1\)"):
        CPU.mean_squared_error(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match=r"grad_out has shape \(1, 3\), expected \(3, 1\)"):
        CPU.mean_squared_error(np.zeros((3, 1)), np.zeros((3, 1)), grad_out=np.empty((1, 3)))
    pred = normal(rng, (6, 3), np.float64)
    targets = normal(rng, (6, 3), np.float64)
    loss, grad = CPU.mean_squared_error(pred[:, ::-1], targets)  # copied
    ref_loss, ref_grad = REF.mean_squared_error(pred[:, ::-1], targets)
    assert kernels == ["mean_squared_error"]
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close(grad, ref_grad)


# ----------------------------------------------------------------- optimizers
PARAM_SHAPES = [(1,), (7,), (13, 5), (300, 257), (2048, 3)]


def _update_steps(rng, shape, dtype, n_steps=5):
    param = normal(rng, shape, dtype)
    grads = [normal(rng, shape, dtype) for _ in range(n_steps)]
    return param, grads


def _compare_steps(kernels, step_fn, param, grads, n_state, dtype):
    """Run ``step_fn(ops, param, grad, *state, step)`` five times on both backends."""
    ref_param, ref_state = param.copy(), [np.zeros_like(param) for _ in range(n_state)]
    cpu_param, cpu_state = param.copy(), [np.zeros_like(param) for _ in range(n_state)]
    for step, grad in enumerate(grads, start=1):
        assert step_fn(REF, ref_param, grad, *ref_state, step=step) is None
        assert step_fn(CPU, cpu_param, grad, *cpu_state, step=step) is None
    assert len(kernels) == len(grads)
    assert_close(cpu_param, ref_param)
    for got, expected in zip(cpu_state, ref_state):
        assert_close(got, expected)
    assert not np.array_equal(cpu_param, param)


# Every rule splits a parameter among threads the same way (contiguous chunks of
# 16 elements); the rule and weight decay change only the arithmetic per element.
@cover(full={"shape": PARAM_SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"rule": [(0.0, False), (0.9, False), (0.9, True)], "weight_decay": [0.0, 0.01],
                 "dtype": DTYPES})
def test_sgd_update(kernels, threads, rng, dtype, shape, weight_decay, rule):
    momentum, nesterov = rule
    param, grads = _update_steps(rng, shape, dtype)

    def step(ops, p, g, *state, step):
        velocity = state[0] if state else None
        return ops.sgd_update(p, g, velocity, 0.05, momentum=momentum, nesterov=nesterov,
                              weight_decay=weight_decay)

    _compare_steps(kernels, step, param, grads, 1 if momentum else 0, dtype)


@cover(full={"shape": PARAM_SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"weight_decay": [0.0, 0.01], "simd": [0, 1, 2], "dtype": DTYPES})
def test_adam_update(kernels, threads, simd, rng, dtype, shape, weight_decay):
    param, grads = _update_steps(rng, shape, dtype)

    def step(ops, p, g, m, v, step):
        return ops.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, step,
                               weight_decay=weight_decay)

    _compare_steps(kernels, step, param, grads, 2, dtype)


@cover(full={"shape": PARAM_SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"weight_decay": [0.0, 0.01], "simd": [0, 1, 2], "dtype": DTYPES})
def test_rmsprop_update(kernels, threads, simd, rng, dtype, shape, weight_decay):
    param, grads = _update_steps(rng, shape, dtype)

    def step(ops, p, g, sq, step):
        return ops.rmsprop_update(p, g, sq, 1e-2, 0.9, 1e-7, weight_decay=weight_decay)

    _compare_steps(kernels, step, param, grads, 1, dtype)


@cover(full={"shape": PARAM_SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"weight_decay": [0.0, 0.01], "simd": [0, 1, 2], "dtype": DTYPES})
def test_adagrad_update(kernels, threads, simd, rng, dtype, shape, weight_decay):
    param, grads = _update_steps(rng, shape, dtype)

    def step(ops, p, g, acc, step):
        return ops.adagrad_update(p, g, acc, 0.1, 1e-7, weight_decay=weight_decay)

    _compare_steps(kernels, step, param, grads, 1, dtype)


@cover(full={"shape": PARAM_SHAPES, "threads": ["serial", "parallel"]},
       pairwise={"weight_decay": [0.0, 0.01], "simd": [0, 1, 2], "dtype": DTYPES})
def test_adadelta_update(kernels, threads, simd, rng, dtype, shape, weight_decay):
    param, grads = _update_steps(rng, shape, dtype)

    def step(ops, p, g, acc_grad, acc_delta, step):
        return ops.adadelta_update(p, g, acc_grad, acc_delta, 1.0, 0.95, 1e-6,
                                   weight_decay=weight_decay)

    _compare_steps(kernels, step, param, grads, 2, dtype)


def _run_kernel(name, dtype):
    """Outputs of one compiled op on fixed inputs (five steps for the optimizers)."""
    rng = np.random.default_rng(7)
    z = normal(rng, (123, 45), dtype, scale=5.0)
    if name == "sigmoid":
        return [CPU.activation(z, "sigmoid")]
    if name == "softmax":
        return [CPU.softmax(z)]
    if name == "cross-entropy":
        loss, grad = CPU.softmax_cross_entropy(z, rng.integers(0, 45, 123))
        return [np.array(loss), grad]
    if name == "binary cross-entropy":
        loss, grad = CPU.sigmoid_binary_cross_entropy(z, rng.random(z.shape).astype(dtype))
        return [np.array(loss), grad]
    if name == "squared error":
        loss, grad = CPU.mean_squared_error(z, normal(rng, z.shape, dtype))
        return [np.array(loss), grad]
    if name.startswith("derivative of "):
        act = name[len("derivative of "):]
        return [CPU.backprop_activation(normal(rng, z.shape, dtype), CPU.activation(z, act), act)]
    p, grads = _update_steps(rng, z.shape, dtype)
    state = [np.zeros_like(p), np.zeros_like(p)]
    for step, g in enumerate(grads, start=1):
        if name == "adam":
            CPU.adam_update(p, g, *state, 1e-3, 0.9, 0.999, 1e-8, step, weight_decay=0.01)
        elif name == "rmsprop":
            CPU.rmsprop_update(p, g, state[0], 1e-2, 0.9, 1e-7, weight_decay=0.01)
        elif name == "adagrad":
            CPU.adagrad_update(p, g, state[0], 0.1, 1e-7, weight_decay=0.01)
        else:
            CPU.adadelta_update(p, g, *state, 1.0, 0.95, 1e-6, weight_decay=0.01)
    return [p, *state]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "softmax", "cross-entropy", "binary cross-entropy",
                                  "squared error", "derivative of sigmoid", "derivative of tanh",
                                  "derivative of relu", "adam", "rmsprop", "adagrad",
                                  "adadelta"])
def test_kernels_are_bit_identical_at_every_simd_level(dtype, name):
    results = []
    try:
        for level in (0, 1, 2):
            if _simd.select_simd_kernels(level) != level:
                break
            results.append(_run_kernel(name, dtype))
    finally:
        _simd.select_simd_kernels()
    if len(results) < 2:
        pytest.skip("the CPU lacks AVX2")
    for other in results[1:]:
        assert len(other) == len(results[0]) > 0
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_select_simd_kernels_rejects_unknown_levels():
    with pytest.raises(ValueError, match="max_level must be 0, 1 or 2"):
        _simd.select_simd_kernels(3)
    assert _simd.select_simd_kernels() in (0, 1, 2)


@pytest.mark.parametrize("dtype, size", [(np.float32, 12), (np.float64, 6)])
def test_adam_does_not_depend_on_where_the_arrays_lie(simd, dtype, size):
    # A compiler that fused multiply-adds in the vector loop but not in its
    # scalar tail would make a small parameter's update depend on where it
    # lies: the kernels are built with -ffp-contract=off.
    rng = np.random.default_rng(3)
    values = [normal(rng, size, dtype) for _ in range(3)] + [np.abs(normal(rng, size, dtype))]
    results = []
    for gap in (0, 4096):  # side by side in one buffer, then pages apart
        buffer = np.zeros(4 * (size + gap), dtype)
        p, g, m, v = (buffer[i * (size + gap):i * (size + gap) + size] for i in range(4))
        for array, value in zip((p, g, m, v), values):
            array[...] = value
        CPU.adam_update(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 2)
        results.append(np.concatenate([p, m, v]))
    np.testing.assert_array_equal(results[0], results[1])


def test_adam_step_matches_the_textbook_formula():
    p = np.array([0.5, -1.0, 2.0], np.float64)
    g = np.array([0.1, -0.2, 0.0], np.float64)
    m, v = np.zeros(3), np.zeros(3)
    CPU.adam_update(p, g, m, v, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, step=1)
    # After one step m_hat = g and v_hat = g^2, so each moving weight moves by lr.
    np.testing.assert_allclose(p, [0.4, -0.9, 2.0], rtol=1e-7)
    np.testing.assert_allclose(m, 0.1 * g)
    np.testing.assert_allclose(v, 0.001 * g * g)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 200), lr=st.floats(1e-4, 1.0), momentum=st.floats(0.0, 0.99),
       nesterov=st.booleans(), weight_decay=st.sampled_from([0.0, 1e-4, 0.1]),
       seed=st.integers(0, 2**32 - 1))
def test_sgd_update_random_hyperparameters(size, lr, momentum, nesterov, weight_decay, seed):
    rng = np.random.default_rng(seed)
    p, g = normal(rng, size, np.float64), normal(rng, size, np.float64)
    v = normal(rng, size, np.float64)
    p_ref, v_ref = p.copy(), v.copy()
    CPU.sgd_update(p, g, v, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    REF.sgd_update(p_ref, g, v_ref, lr, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay)
    assert_close(p, p_ref)
    if momentum:
        assert_close(v, v_ref)


def test_optimizer_non_contiguous_state_uses_the_reference(kernels, rng):
    big = normal(rng, (6, 8), np.float32)
    param = big[:, ::2]  # a view: the update must land in big
    grad = normal(rng, (6, 4), np.float32)
    m, v = np.zeros((6, 4), np.float32), np.zeros((6, 4), np.float32)
    expected = param.copy()
    REF.adam_update(expected, grad, m.copy(), v.copy(), 0.01, 0.9, 0.999, 1e-8, 1)
    CPU.adam_update(param, grad, m, v, 0.01, 0.9, 0.999, 1e-8, 1)
    assert kernels == []
    assert_close(big[:, ::2], expected)
    # A non-contiguous gradient alone is copied and the kernel still runs.
    p = normal(rng, (6, 4), np.float32)
    p_ref = p.copy()
    sq, sq_ref = np.zeros_like(p), np.zeros_like(p)
    g_view = normal(rng, (4, 6), np.float32).T
    CPU.rmsprop_update(p, g_view, sq, 0.01, 0.9, 1e-7)
    REF.rmsprop_update(p_ref, g_view, sq_ref, 0.01, 0.9, 1e-7)
    assert kernels == ["rmsprop_update"]
    assert_close(p, p_ref)


def test_optimizer_shape_mismatch_and_dtype_mismatch(kernels, rng):
    p = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"adam_update: v has shape \(2, 3\) but param has shape"):
        CPU.adam_update(p, np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32),
                        np.zeros((2, 3), np.float32), 0.1, 0.9, 0.999, 1e-8, 1)
    with pytest.raises(ValueError, match=r"sgd_update: grad has shape \(6,\) but param"):
        CPU.sgd_update(p, np.zeros(6, np.float32), None, 0.1)
    p32, g64 = normal(rng, 5, np.float32), normal(rng, 5, np.float64)
    p_ref = p32.copy()
    CPU.adagrad_update(p32, g64, np.zeros(5, np.float32), 0.1, 1e-7)
    REF.adagrad_update(p_ref, g64, np.zeros(5, np.float32), 0.1, 1e-7)
    assert kernels == []
    np.testing.assert_array_equal(p32, p_ref)
