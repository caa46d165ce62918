# The node interface of the compiled network, for the module nnfast._network
# (csrc/_network.pyx) and the family modules whose nodes subclass Node
# (``from nnfast._network cimport Node``).  It lies under csrc/nnfast/ because
# Cython finds a compiled module's declarations by its full name.
cimport numpy as cnp

from _parallel cimport thread_plan


cdef inline char* address(object array):
    """The data address of a numpy array (checked by the caller), or NULL for None."""
    return NULL if array is None else <char*> cnp.PyArray_DATA(<cnp.ndarray> array)


cdef class Node:
    cdef readonly Py_ssize_t in_size, out_size
    cdef readonly bint alias
    cdef int itemsize
    cdef list keep  # the arrays whose addresses this node holds
    # The node's term in the objective from its last forward pass (a
    # penalty's coefficient times its value; 0 for nodes without one).
    cdef readonly double penalty

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1
    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1
