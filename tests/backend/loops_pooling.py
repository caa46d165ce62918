"""Pooling and batch normalisation written as plain loops: the direct definitions.

Slow and obvious, one value at a time, in float64; the tests hold the
reference ops and the compiled kernels to these.
"""
import numpy as np


def max_pool2d(x, pool_size, strides):
    """``(out, argmax)``: each window's largest value (the first of equals) and its index."""
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool_size, strides
    ho, wo = (h - ph) // sh + 1, (w - pw) // sw + 1
    out = np.empty((n, ho, wo, c), dtype=x.dtype)
    argmax = np.empty((n, ho, wo, c), dtype=np.int32)
    for s in range(n):
        for i in range(ho):
            for j in range(wo):
                for ch in range(c):
                    best, where = None, None
                    for di in range(ph):
                        for dj in range(pw):
                            r, q = i * sh + di, j * sw + dj
                            if best is None or x[s, r, q, ch] > best:
                                best, where = x[s, r, q, ch], (r * w + q) * c + ch
                    out[s, i, j, ch], argmax[s, i, j, ch] = best, where
    return out, argmax


def max_pool2d_backward(dy, argmax, x_shape):
    dx = np.zeros((dy.shape[0],) + tuple(x_shape))
    flat = dx.reshape(dy.shape[0], -1)
    for s in range(dy.shape[0]):
        for index, g in zip(argmax[s].ravel(), dy[s].ravel()):
            flat[s, index] += g
    return dx


def avg_pool2d(x, pool_size, strides):
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool_size, strides
    ho, wo = (h - ph) // sh + 1, (w - pw) // sw + 1
    out = np.zeros((n, ho, wo, c))
    for s in range(n):
        for i in range(ho):
            for j in range(wo):
                for ch in range(c):
                    total = 0.0
                    for di in range(ph):
                        for dj in range(pw):
                            total += float(x[s, i * sh + di, j * sw + dj, ch])
                    out[s, i, j, ch] = total / (ph * pw)
    return out


def avg_pool2d_backward(dy, x_shape, pool_size, strides):
    (ph, pw), (sh, sw) = pool_size, strides
    n, ho, wo, c = dy.shape
    dx = np.zeros((n,) + tuple(x_shape))
    for s in range(n):
        for i in range(ho):
            for j in range(wo):
                for ch in range(c):
                    for di in range(ph):
                        for dj in range(pw):
                            dx[s, i * sh + di, j * sw + dj, ch] += dy[s, i, j, ch] / (ph * pw)
    return dx


def global_avg_pool2d(x):
    n, h, w, c = x.shape
    out = np.zeros((n, c))
    for s in range(n):
        for ch in range(c):
            out[s, ch] = sum(float(x[s, i, j, ch]) for i in range(h) for j in range(w)) / (h * w)
    return out


def global_avg_pool2d_backward(dy, x_shape):
    h, w, c = x_shape
    dx = np.zeros((dy.shape[0], h, w, c))
    for s in range(dy.shape[0]):
        for i in range(h):
            for j in range(w):
                for ch in range(c):
                    dx[s, i, j, ch] = dy[s, ch] / (h * w)
    return dx


def batch_stats(x):
    """Per column: the mean and the biased variance, each a sum over the rows."""
    m, c = x.shape
    mean, var = np.zeros(c), np.zeros(c)
    for ch in range(c):
        column = [float(v) for v in x[:, ch]]
        mean[ch] = sum(column) / m
        var[ch] = sum((v - mean[ch]) ** 2 for v in column) / m
    return mean, var


def batch_norm(x, gamma, beta, mean, var, epsilon):
    m, c = x.shape
    out = np.empty((m, c))
    for r in range(m):
        for ch in range(c):
            out[r, ch] = (gamma[ch] * (float(x[r, ch]) - mean[ch]) / np.sqrt(var[ch] + epsilon)
                          + beta[ch])
    return out


def batch_norm_backward(dy, x, gamma, mean, invstd):
    """``(dx, dgamma, dbeta)`` of the normalisation by batch statistics."""
    m, c = x.shape
    dx = np.empty((m, c))
    dgamma, dbeta = np.zeros(c), np.zeros(c)
    for ch in range(c):
        xhat = [(float(x[r, ch]) - mean[ch]) * invstd[ch] for r in range(m)]
        dbeta[ch] = sum(float(dy[r, ch]) for r in range(m))
        dgamma[ch] = sum(float(dy[r, ch]) * xhat[r] for r in range(m))
        for r in range(m):
            dx[r, ch] = (gamma[ch] * invstd[ch] / m
                         * (m * dy[r, ch] - dbeta[ch] - xhat[r] * dgamma[ch]))
    return dx, dgamma, dbeta
