# The parts of the compiled core other compiled modules use (tokenizers/_merges.pyx).
from libc.stdint cimport uint8_t

cdef Py_ssize_t count_pretokens(const uint8_t* d, Py_ssize_t n) noexcept nogil
