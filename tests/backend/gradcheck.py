"""Finite-difference checks of analytic gradients, in float64."""
import numpy as np


def assert_gradients_by_finite_differences(loss, arrays, grads, seed, count=12, eps=1e-6,
                                           tol=1e-6):
    """Central differences of ``loss`` at ``count`` random entries of each array.

    Parameters
    ----------
    loss : callable
        ``loss(*arrays)`` -> float.
    arrays, grads : sequence of ndarray
        The arguments of ``loss`` and the gradient claimed for each.
    seed : int
        Chooses the entries.
    """
    rng = np.random.default_rng(seed)
    for index, (array, grad) in enumerate(zip(arrays, grads)):
        for flat in rng.choice(array.size, size=min(array.size, count), replace=False):
            pos = np.unravel_index(flat, array.shape)
            args = list(arrays)
            plus, minus = array.copy(), array.copy()
            plus[pos] += eps
            minus[pos] -= eps
            args[index] = plus
            up = loss(*args)
            args[index] = minus
            down = loss(*args)
            assert abs((up - down) / (2 * eps) - grad[pos]) <= tol * max(1.0, abs(grad[pos])), \
                (index, pos)
