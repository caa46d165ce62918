"""Plain-loop numpy references for the convolution tests: one output value at a time.

Written from the definition (a cross-correlation over zero-padded images,
channels last), sharing nothing with the ops they check.
"""
import numpy as np


def out_size(size, kernel, stride, before, after):
    return (size + before + after - kernel) // stride + 1


def conv2d(x, kernel, bias, strides, padding):
    """``y[s, i, j, o] = bias[o] + sum x[s, i*sh - top + di, j*sw - left + dj, ci] * K[di, dj, ci, o]``."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (sh, sw), (top, bottom, left, right) = strides, padding
    ho, wo = out_size(h, kh, sh, top, bottom), out_size(w, kw, sw, left, right)
    y = np.zeros((n, ho, wo, f), dtype=np.float64)
    for s in range(n):
        for i in range(ho):
            for j in range(wo):
                for di in range(kh):
                    for dj in range(kw):
                        ii, jj = i * sh - top + di, j * sw - left + dj
                        if 0 <= ii < h and 0 <= jj < w:
                            y[s, i, j] += x[s, ii, jj].astype(np.float64) @ kernel[di, dj]
                if bias is not None:
                    y[s, i, j] += bias
    return y


def conv2d_backward(dy, x, kernel, strides, padding):
    """``(dkernel, dbias, dx)``: each output value's gradient sent back to what made it."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (sh, sw), (top, _, left, _) = strides, padding
    ho, wo = dy.shape[1:3]
    dkernel = np.zeros(kernel.shape, dtype=np.float64)
    dx = np.zeros(x.shape, dtype=np.float64)
    for s in range(n):
        for i in range(ho):
            for j in range(wo):
                g = dy[s, i, j].astype(np.float64)
                for di in range(kh):
                    for dj in range(kw):
                        ii, jj = i * sh - top + di, j * sw - left + dj
                        if 0 <= ii < h and 0 <= jj < w:
                            dkernel[di, dj] += np.outer(x[s, ii, jj], g)
                            dx[s, ii, jj] += kernel[di, dj] @ g
    dbias = dy.astype(np.float64).sum(axis=(0, 1, 2))
    return dkernel, dbias, dx
