# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fsqtok's compiled encode/decode core: pre-tokenise bytes, cover each run of whole pre-tokens
by its longest piece, then each pre-token in the fewest tokens, raw bytes where no piece fits;
decode as a gather over one flat byte table.

The rule (tests/test_tokenizer.py spells it out slowly as `reference_encode`): at each pre-token,
the longest run of at least two whole pre-tokens that is a piece wins (" of the"); otherwise the
pre-token is split into the fewest tokens (pieces of at least two bytes, byte tokens), among
equally few into the fewest byte tokens, and among those, at each end the token that starts
earliest. That is Hugging Face's Unigram Viterbi with a score of -1 per piece and -1 - 1/128 per
byte token (PIECE_COST, BYTE_COST over 128; exact in floating point), so the HF export gives the
same ids. Pre-tokens are chunking.PRETOKEN's
(runs of at most MAX_RUN bytes), written out over byte classes.

The encode loop touches no Python object, so it runs without the GIL: `encode_many` encodes a
shard of documents while other threads encode theirs.
"""

from cpython.array cimport array, clone
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_Clear
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy

from fsqtok.errors import FsqtokError
from fsqtok.tokenizers.base import as_id_list

cdef extern from "Python.h":
    # Raw forms: Cython's own declarations would count references around borrowed pointers.
    void incref "Py_INCREF"(PyObject*)
    void list_set_item "PyList_SET_ITEM"(object, Py_ssize_t, PyObject*)  # steals the reference
    bint long_check_exact "PyLong_CheckExact"(PyObject*)
    long long_as_long "PyLong_AsLong"(PyObject*)

cdef enum:
    SPACE = 1
    LETTER = 2
    DIGIT = 3
    PUNCT = 4
    FIRST_PIECE = 259  # ids 0-2 the specials, 3-258 the bytes
    MAX_PIECE_BYTES = 256  # chunking.max_chunk_bytes's bound; sizes the scratch arrays on the stack
    MAX_PIECE_WORDS = 32  # MAX_PIECE_BYTES / 8
    MAX_RUN = 64  # chunking.MAX_RUN: longest run of one byte class in a pre-token
    MAX_PRETOKEN = MAX_RUN + 1  # a space and a run
    PIECE_COST = 128  # a token's cost in the segmentation, in 128ths
    BYTE_COST = 129  # a byte token costs a little more: fewest tokens first, then fewest byte tokens
    PREFIX = 1  # a slot value: the bytes begin a piece but are none (1 is <bos>, never a piece's id)

cdef uint8_t CLASS[256]  # byte -> class, as Python's bytes regex sees it (\s is ASCII whitespace)
for _b in range(256):
    CLASS[_b] = (SPACE if 9 <= _b <= 13 or _b == 32 else
                 LETTER if 65 <= _b <= 90 or 97 <= _b <= 122 or _b >= 0x80 else  # UTF-8 multi-byte: letters
                 DIGIT if 48 <= _b <= 57 else PUNCT)


cdef inline Py_ssize_t pretoken_end(const uint8_t* d, Py_ssize_t n, Py_ssize_t p) noexcept nogil:
    """End of the pre-token that starts at p < n: PRETOKEN's alternatives in their order."""
    cdef uint8_t c = d[p], s
    cdef Py_ssize_t suffix = 0, q = p, e
    if c == 39 and p + 1 < n:  # 1. "'" + s|t|re|ve|m|ll|d, not followed by a letter
        s = d[p + 1]
        if s == 115 or s == 116 or s == 109 or s == 100:  # s t m d
            suffix = 2
        elif p + 2 < n and ((s == 114 and d[p + 2] == 101) or (s == 118 and d[p + 2] == 101)
                            or (s == 108 and d[p + 2] == 108)):  # re ve ll
            suffix = 3
        if suffix and (p + suffix == n or CLASS[d[p + suffix]] != LETTER):
            return p + suffix
    if c == 32 and p + 1 < n and CLASS[d[p + 1]] != SPACE:
        q = p + 1  # 2-4. " ?" + a run of letters, digits or punctuation
    if CLASS[d[q]] != SPACE:
        c = CLASS[d[q]]
        e = q + 1
        while e < n and CLASS[d[e]] == c and e - q < MAX_RUN:
            e += 1
        return e
    e = p + 1  # 5. \s{1,64}(?!\S): a whitespace run leaves its last byte to a non-space after it; 6. \s{1,64}
    while e < n and CLASS[d[e]] == SPACE and e - p < MAX_RUN:
        e += 1
    return e - 1 if e < n and CLASS[d[e]] != SPACE and e - p >= 2 else e



cdef Py_ssize_t count_pretokens(const uint8_t* d, Py_ssize_t n) noexcept nogil:
    """How many pre-tokens the n bytes at d make (len(chunking.pretokenize(...)))."""
    cdef Py_ssize_t p = 0, count = 0
    while p < n:
        p = pretoken_end(d, n, p)
        count += 1
    return count

cdef inline void load_words(const uint8_t* d, Py_ssize_t available, uint64_t* words, Py_ssize_t width) noexcept nogil:
    """words[j] = the 8 bytes at d + 8j (little-endian), zero past `available`: the key of every
    prefix of d, up to 8 * width bytes, is a masked copy of them."""
    cdef Py_ssize_t j
    if available >= 8 * width:
        for j in range(width):
            memcpy(&words[j], d + 8 * j, 8)  # a fixed size: one load, no call
    else:  # the end of the input: never read past it
        for j in range(width):
            words[j] = 0
        memcpy(words, d, available if available < 8 * width else 8 * width)


cdef inline uint64_t word_mask(Py_ssize_t n_bytes) noexcept nogil:
    return 0xFFFFFFFFFFFFFFFFULL if n_bytes >= 8 else (1ULL << (8 * n_bytes)) - 1


cdef inline uint64_t hash_key(const uint64_t* words, Py_ssize_t n) noexcept nogil:
    """Hash of the first n bytes of `words`."""
    cdef uint64_t h = <uint64_t>n * 0x9E3779B97F4A7C15ULL
    cdef Py_ssize_t j
    for j in range((n + 7) // 8):
        h = (h ^ (words[j] & word_mask(n - 8 * j))) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 32
    return h


cdef struct IdBuffer:
    uint32_t* ids
    Py_ssize_t size
    Py_ssize_t capacity


cdef inline bint reserve(IdBuffer* out, Py_ssize_t extra) noexcept nogil:
    """Room for `extra` more ids, growing the buffer by at least half; False when memory runs out."""
    cdef Py_ssize_t capacity
    cdef uint32_t* grown
    if out.size + extra > out.capacity:
        capacity = out.capacity + out.capacity // 2 + 64 + extra
        grown = <uint32_t*>realloc(out.ids, capacity * sizeof(uint32_t))
        if grown == NULL:
            return False
        out.ids, out.capacity = grown, capacity
    return True


cdef inline bint push(IdBuffer* out, uint32_t token_id) noexcept nogil:
    """Append one id; False when memory runs out."""
    if not reserve(out, 1):
        return False
    out.ids[out.size] = token_id
    out.size += 1
    return True


cdef class PieceCore:
    """Encoder and decoder over `pieces` (id 259 + i), ids 0-2 the specials, 3-258 the bytes.
    Example: PieceCore([b" of", b" of the"], 16).encode(b" of the") == [260]"""

    cdef uint8_t* table  # the bytes of every id, back to back
    cdef Py_ssize_t* offsets  # id i is table[offsets[i]:offsets[i + 1]]
    cdef uint32_t* slots  # open addressing over the pieces and their prefixes: 0 empty, PREFIX, or a piece id
    cdef uint16_t* slot_lengths  # the length of each slot's piece
    cdef uint64_t* slot_keys  # its bytes as `width` zero-padded words
    cdef Py_ssize_t width  # words per key: max_piece_bytes / 8, rounded up
    cdef uint64_t mask
    cdef readonly Py_ssize_t n_ids, max_piece_bytes
    cdef list id_objects  # the int of every id, shared by every list encode returns
    cdef PyObject** id_items

    def __cinit__(self, list pieces, Py_ssize_t max_piece_bytes):
        cdef Py_ssize_t i, m, total = 0, entries = 0, size = 64, pos = 256
        cdef bytes piece
        self.n_ids = FIRST_PIECE + len(pieces)
        if not 1 <= max_piece_bytes <= MAX_PIECE_BYTES:
            raise ValueError(f"max_piece_bytes must be in [1, {MAX_PIECE_BYTES}], got {max_piece_bytes}")
        self.max_piece_bytes = max_piece_bytes
        self.width = (self.max_piece_bytes + 7) // 8
        for piece in pieces:
            total += len(piece)
            entries += min(len(piece), max_piece_bytes) - 1  # the piece and its prefixes of >= 2 bytes
        while size < 2 * entries:
            size *= 2
        self.mask = size - 1
        self.table = <uint8_t*>malloc(256 + total + 1)
        self.offsets = <Py_ssize_t*>malloc((self.n_ids + 1) * sizeof(Py_ssize_t))
        self.slots = <uint32_t*>malloc(size * sizeof(uint32_t))
        self.slot_lengths = <uint16_t*>malloc(size * sizeof(uint16_t))
        self.slot_keys = <uint64_t*>malloc(size * self.width * sizeof(uint64_t))
        self.id_items = <PyObject**>malloc(self.n_ids * sizeof(PyObject*))
        if not (self.table and self.offsets and self.slots and self.slot_lengths and self.slot_keys and self.id_items):
            raise MemoryError()
        for i in range(size):
            self.slots[i] = 0
        self.offsets[0] = self.offsets[1] = self.offsets[2] = 0  # specials decode to nothing
        for i in range(256):
            self.offsets[3 + i] = i
            self.table[i] = i
        for i, piece in enumerate(pieces):
            self.offsets[FIRST_PIECE + i] = pos
            memcpy(self.table + pos, PyBytes_AS_STRING(piece), len(piece))
            pos += len(piece)
        self.offsets[self.n_ids] = pos
        for i in range(FIRST_PIECE, self.n_ids):
            if 2 <= self.offsets[i + 1] - self.offsets[i] <= self.max_piece_bytes:
                self.insert(i, self.offsets[i + 1] - self.offsets[i])  # single bytes are byte tokens
        for i in range(FIRST_PIECE, self.n_ids):  # then the prefixes that are not pieces themselves
            for m in range(2, min(self.offsets[i + 1] - self.offsets[i], self.max_piece_bytes + 1)):
                self.insert(i, m)
        self.id_objects = list(range(self.n_ids))
        for i in range(self.n_ids):
            self.id_items[i] = <PyObject*>PyList_GET_ITEM(self.id_objects, i)

    def __dealloc__(self):
        free(self.table)
        free(self.offsets)
        free(self.slots)
        free(self.slot_lengths)
        free(self.slot_keys)
        free(self.id_items)

    cdef void insert(self, uint32_t piece_id, Py_ssize_t n) noexcept:
        """Add the first n bytes of a piece to the hash: the whole piece under its id (a repeated
        piece takes the later id, as a dict would), a shorter prefix as PREFIX where it is new."""
        cdef uint64_t* words = <uint64_t*>malloc(self.width * sizeof(uint64_t))
        load_words(self.table + self.offsets[piece_id], n, words, self.width)
        cdef uint64_t slot = self.find(words, n)
        if n < self.offsets[piece_id + 1] - self.offsets[piece_id]:
            if self.slots[slot]:  # a piece, or a prefix already there
                free(words)
                return
            piece_id = PREFIX
        self.slots[slot] = piece_id
        self.slot_lengths[slot] = n
        memcpy(self.slot_keys + slot * self.width, words, self.width * sizeof(uint64_t))
        free(words)

    cdef inline uint64_t find(self, const uint64_t* words, Py_ssize_t n) noexcept nogil:
        """The slot of the piece equal to the first n bytes of `words`, or the empty slot where it
        would go."""
        cdef uint64_t slot = hash_key(words, n) & self.mask
        cdef const uint64_t* key
        cdef Py_ssize_t j
        while self.slots[slot]:
            if self.slot_lengths[slot] == n:
                key = self.slot_keys + slot * self.width
                j = 0
                while 8 * j < n and key[j] == words[j] & word_mask(n - 8 * j):
                    j += 1
                if 8 * j >= n:
                    return slot
            slot = (slot + 1) & self.mask
        return slot

    cdef inline uint32_t lookup(self, const uint64_t* words, Py_ssize_t n) noexcept nogil:
        """Id of the piece equal to the first n bytes of `words`, or 0."""
        cdef uint32_t value = self.slots[self.find(words, n)]
        return value if value >= FIRST_PIECE else 0

    cdef bint cover(self, const uint8_t* d, Py_ssize_t n, Py_ssize_t start, Py_ssize_t end, uint64_t* words,
                    IdBuffer* out) noexcept nogil:
        """One pre-token d[start:end] (at most MAX_PRETOKEN bytes) at the least cost, by dynamic
        programming over its byte positions; ties as the module docstring says."""
        cdef Py_ssize_t length = end - start, s, m, longest, tokens = 0, k, e
        cdef uint16_t cost[MAX_PRETOKEN + 1]  # least cost of the first e bytes
        cdef uint8_t begin[MAX_PRETOKEN + 1]  # where the last of those tokens starts
        cdef uint32_t last[MAX_PRETOKEN + 1]  # and its id
        cdef uint32_t value
        if length == 1:
            return push(out, 3 + d[start])
        if length <= self.max_piece_bytes:  # a whole piece is the only one-token path
            load_words(d + start, n - start, words, self.width)
            value = self.lookup(words, length)
            if value:
                return push(out, value)
        cost[0] = 0
        for e in range(1, length + 1):
            cost[e] = 0xFFFF
        for s in range(length):  # starts in order, and only a strictly cheaper path replaces one
            if cost[s] + BYTE_COST < cost[s + 1]:
                cost[s + 1], begin[s + 1], last[s + 1] = cost[s] + BYTE_COST, s, 3 + d[start + s]
            longest = length - s if length - s < self.max_piece_bytes else self.max_piece_bytes
            if longest >= 2:
                load_words(d + start + s, n - start - s, words, self.width)
            for m in range(2, longest + 1):
                value = self.slots[self.find(words, m)]
                if not value:
                    break  # no piece begins with these m bytes
                if value >= FIRST_PIECE and cost[s] + PIECE_COST < cost[s + m]:
                    cost[s + m], begin[s + m], last[s + m] = cost[s] + PIECE_COST, s, value
        e = length
        while e:  # count the path's tokens, then write them back to front
            tokens, e = tokens + 1, begin[e]
        if not reserve(out, tokens):
            return False
        k, e = tokens, length
        while e:
            k -= 1
            out.ids[out.size + k] = last[e]
            e = begin[e]
        out.size += tokens
        return True

    cdef bint encode_into(self, const uint8_t* d, Py_ssize_t n, IdBuffer* out) noexcept nogil:
        """Append the ids of d[:n] to `out`; False when memory runs out."""
        cdef Py_ssize_t ends[MAX_PIECE_BYTES + 2]  # ends of the pre-tokens from pos on, max_piece_bytes ahead
        cdef uint64_t words[MAX_PIECE_WORDS]  # the key words of the bytes at pos (per call: threads share self)
        cdef Py_ssize_t pos = 0, queued = 0, last, k, i
        cdef uint32_t piece_id
        while pos < n:
            last = ends[queued - 1] if queued else pos
            while last < n and (queued == 0 or last - pos < self.max_piece_bytes):
                last = pretoken_end(d, n, last)
                ends[queued] = last
                queued += 1
            k = queued  # the longest run of >= 2 whole pre-tokens that is a piece
            while k >= 2 and ends[k - 1] - pos > self.max_piece_bytes:
                k -= 1
            piece_id = 0
            if k >= 2:
                load_words(d + pos, n - pos, words, self.width)
            while k >= 2:
                piece_id = self.lookup(words, ends[k - 1] - pos)
                if piece_id:
                    break
                k -= 1
            if piece_id:
                if not push(out, piece_id):
                    return False
            else:
                k = 1
                if not self.cover(d, n, pos, ends[0], words, out):
                    return False
            pos = ends[k - 1]
            for i in range(queued - k):
                ends[i] = ends[i + k]
            queued -= k
        return True

    cdef list as_list(self, const uint32_t* ids, Py_ssize_t n):
        cdef list result = PyList_New(n)
        cdef Py_ssize_t i
        for i in range(n):
            incref(self.id_items[ids[i]])
            list_set_item(result, i, self.id_items[ids[i]])
        return result

    cdef int encode_buffer(self, bytes data, IdBuffer* out) except -1:
        """Fill `out` with the ids of `data` without the GIL; the caller frees out.ids."""
        cdef const uint8_t* d = <const uint8_t*>PyBytes_AS_STRING(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef bint ok
        with nogil:
            ok = self.encode_into(d, n, out)
        if not ok:
            raise MemoryError()
        return 0

    def encode(self, bytes data) -> list:
        """The ids of `data`, as a list of ints."""
        cdef IdBuffer out = IdBuffer(NULL, 0, 0)
        try:
            self.encode_buffer(data, &out)
            return self.as_list(out.ids, out.size)
        finally:
            free(out.ids)

    def encode_array(self, bytes data) -> array:
        """The ids of `data` as an array('I'): 4 bytes per id, for inputs of any size."""
        cdef IdBuffer out = IdBuffer(NULL, 0, 0)
        cdef array result
        try:
            self.encode_buffer(data, &out)
            result = clone(array("I"), out.size, False)
            if out.size:
                memcpy(result.data.as_voidptr, out.ids, out.size * sizeof(uint32_t))
            return result
        finally:
            free(out.ids)

    def encode_many(self, list documents) -> list:
        """The ids of each bytes object in `documents`; the GIL is released for all of them at once."""
        cdef list held = list(documents)  # our own references: the caller's list may change meanwhile
        cdef Py_ssize_t count = len(held), i
        cdef const uint8_t** data = <const uint8_t**>malloc((count + 1) * sizeof(uint8_t*))
        cdef Py_ssize_t* sizes = <Py_ssize_t*>malloc((count + 1) * sizeof(Py_ssize_t))
        cdef Py_ssize_t* ends = <Py_ssize_t*>malloc((count + 1) * sizeof(Py_ssize_t))
        cdef IdBuffer out = IdBuffer(NULL, 0, 0)
        cdef bint ok = True
        cdef bytes document
        try:
            if not (data and sizes and ends):
                raise MemoryError()
            for i in range(count):
                document = held[i]
                data[i] = <const uint8_t*>PyBytes_AS_STRING(document)
                sizes[i] = PyBytes_GET_SIZE(document)
            with nogil:
                for i in range(count):
                    ok = self.encode_into(data[i], sizes[i], &out)
                    ends[i] = out.size
                    if not ok:
                        break
            if not ok:
                raise MemoryError()
            return [self.as_list(out.ids + (ends[i - 1] if i else 0), ends[i] - (ends[i - 1] if i else 0))
                    for i in range(count)]
        finally:
            free(data)
            free(sizes)
            free(ends)
            free(out.ids)

    def tokens_without(self) -> list:
        """For each piece, in id order: the fewest tokens (other pieces, bytes) that spell it, as
        if it were not in the vocabulary: what each use of it would cost without it. Used by the
        vocabulary selection (select.shrink) on pools of up to 200,000 pieces.
        Example: pieces [b"abcd", b"ab", b"cd"] -> [2, 2, 2]"""
        cdef Py_ssize_t piece, length, s, m, longest, e
        cdef uint16_t fewest[MAX_PIECE_BYTES + 1]  # fewest tokens for the first e bytes
        cdef uint64_t words[MAX_PIECE_WORDS]
        cdef uint32_t value
        cdef const uint8_t* d
        cdef list result = []
        for piece in range(FIRST_PIECE, self.n_ids):
            d = self.table + self.offsets[piece]
            length = self.offsets[piece + 1] - self.offsets[piece]
            for e in range(length + 1):
                fewest[e] = e  # byte tokens
            for s in range(length):
                if fewest[s] + 1 < fewest[s + 1]:
                    fewest[s + 1] = fewest[s] + 1
                longest = length - s if length - s < self.max_piece_bytes else self.max_piece_bytes
                if s == 0 and longest == length:
                    longest -= 1  # never the piece itself
                if longest < 2:
                    continue
                load_words(d + s, length - s, words, self.width)
                for m in range(2, longest + 1):
                    value = self.slots[self.find(words, m)]
                    if not value:
                        break  # no piece begins with these m bytes
                    if value >= FIRST_PIECE and fewest[s] + 1 < fewest[s + m]:
                        fewest[s + m] = fewest[s] + 1
            result.append(fewest[length])
        return result

    cdef Py_ssize_t read_ids(self, list items, uint32_t* out) except -1:
        """Copy the ids of `items` (a list of ints) into `out`, checking each; their byte count."""
        cdef Py_ssize_t i, total = 0
        cdef PyObject* item
        cdef long token_id
        for i in range(PyList_GET_SIZE(items)):
            item = <PyObject*>PyList_GET_ITEM(items, i)
            token_id = long_as_long(item) if long_check_exact(item) else -2
            if token_id == -2:  # bools, numpy integers: as_id_list refuses or converts them
                return self.read_ids(as_id_list(items), out)
            if token_id < 0 or token_id >= self.n_ids:
                PyErr_Clear()  # an int beyond a C long
                raise FsqtokError(f"token id {<object>item!r} is out of range [0, {self.n_ids}) for fsqtok")
            out[i] = token_id
            total += self.offsets[token_id + 1] - self.offsets[token_id]
        return total

    cdef void gather(self, const uint32_t* ids, Py_ssize_t n, uint8_t* write) noexcept nogil:
        cdef Py_ssize_t i, start, length
        for i in range(n):
            start = self.offsets[ids[i]]
            length = self.offsets[ids[i] + 1] - start
            memcpy(write, self.table + start, length)
            write += length

    def decode(self, ids) -> bytes:
        """The bytes of `ids` (any iterable of ints); specials add nothing. An id that is not an
        int, or lies outside the vocabulary, is a FsqtokError."""
        return self.decode_many([ids if type(ids) is list else as_id_list(ids)])[0]

    def decode_many(self, list batch) -> list:
        """decode of each list of ids in `batch`; the gather runs without the GIL."""
        cdef list held = [part if type(part) is list else as_id_list(part) for part in batch]
        cdef Py_ssize_t count = len(held), total_ids = 0, i, at = 0
        cdef uint32_t* ids
        cdef Py_ssize_t* id_ends = <Py_ssize_t*>malloc((count + 1) * sizeof(Py_ssize_t))
        cdef uint8_t** writes = <uint8_t**>malloc((count + 1) * sizeof(uint8_t*))
        cdef list results = []
        for i in range(count):
            total_ids += len(<list>held[i])
        ids = <uint32_t*>malloc((total_ids + 1) * sizeof(uint32_t))
        try:
            if not (ids and id_ends and writes):
                raise MemoryError()
            for i in range(count):
                results.append(PyBytes_FromStringAndSize(NULL, self.read_ids(held[i], ids + at)))
                writes[i] = <uint8_t*>PyBytes_AS_STRING(results[i])
                at += len(<list>held[i])
                id_ends[i] = at
            with nogil:
                for i in range(count):
                    self.gather(ids + (id_ends[i - 1] if i else 0), id_ends[i] - (id_ends[i - 1] if i else 0),
                                writes[i])
            return results
        finally:
            free(ids)
            free(id_ends)
            free(writes)
