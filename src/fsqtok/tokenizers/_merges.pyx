# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# distutils: language = c++
"""The multi-word BPE baseline's merge loops, compiled: learning stage 2's merges over the
training ids and applying them when encoding (tokenizers/multiword.py holds the recipe; the
tests hold both loops to a naive recount, merge for merge and id for id).

A pair of ids is one 64-bit key (first << 32 | second), so the counts, positions and ranks are
flat C++ hash maps; the heaps order entries exactly as the Python heaps of tuples do.
"""

from cython.operator cimport dereference as deref
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.unordered_set cimport unordered_set
from libcpp.vector cimport vector

from fsqtok.tokenizers._core cimport count_pretokens

cdef int SEPARATOR = -1  # between documents in the training sequence: no pair spans it


cdef inline uint64_t pair_key(int first, int second) noexcept nogil:
    return (<uint64_t>first << 32) | <uint64_t><unsigned int>second


cdef void link(int64_t n, vector[int64_t]& following, vector[int64_t]& preceding, vector[uint8_t]& alive):
    """A doubly linked list over n tokens, all alive: merging unlinks the right one of a pair."""
    cdef int64_t i
    for i in range(n):
        following.push_back(i + 1)
        preceding.push_back(i - 1)
        alive.push_back(1)


cdef class MergeLearner:
    """Stage 2's merge loop over the training documents' ids (see multiword.learn_merges)."""

    cdef vector[int] tokens
    cdef vector[int64_t] following, preceding
    cdef vector[uint8_t] alive
    cdef vector[string] piece  # id -> bytes, one more per merge
    cdef unordered_map[uint64_t, bint] allowed
    cdef unordered_map[uint64_t, int64_t] counts
    cdef unordered_map[uint64_t, vector[int64_t]] positions
    cdef size_t max_bytes
    cdef int max_pretokens

    def __init__(self, list documents, list id_bytes, int max_bytes, int max_pretokens):
        self.max_bytes, self.max_pretokens = max_bytes, max_pretokens
        for document in documents:  # one sequence, a separator after each document
            for token in document:
                self.tokens.push_back(token)
            self.tokens.push_back(SEPARATOR)
        link(self.tokens.size(), self.following, self.preceding, self.alive)
        for data in id_bytes:
            self.piece.push_back(data)

    cdef bint fits(self, int first, int second) noexcept:
        """Whether the two ids' bytes joined stay within max_bytes and max_pretokens."""
        cdef uint64_t key = pair_key(first, second)
        cdef string joined
        it = self.allowed.find(key)
        if it != self.allowed.end():
            return deref(it).second
        joined = self.piece[first] + self.piece[second]
        ok = joined.size() <= self.max_bytes and count_pretokens(
            <const uint8_t*>joined.data(), joined.size()) <= self.max_pretokens
        self.allowed[key] = ok
        return ok

    cdef bint add(self, int first, int second, int64_t at) noexcept:
        """Count one occurrence of the pair at position `at`; False if the pair may not merge."""
        if first == SEPARATOR or second == SEPARATOR or not self.fits(first, second):
            return False
        key = pair_key(first, second)
        self.counts[key] += 1
        self.positions[key].push_back(at)
        return True

    cdef void lose(self, uint64_t key) noexcept:
        """One occurrence fewer of a counted pair (pairs that may not merge are not counted)."""
        if self.counts.count(key):  # (an in-place update through deref() would change a copy)
            self.counts[key] -= 1

    def learn(self, int n_merges) -> list:
        """The merges, most frequent pair first (ties: the smaller pair of ids)."""
        cdef int64_t n = self.tokens.size(), i, j, k, p, count
        cdef uint64_t key, new
        cdef int new_id, first, second, right
        cdef vector[int64_t] at
        cdef unordered_set[uint64_t] touched
        # a max-heap of (count, ~key): the highest count first, then the smallest key, as
        # Python's heap of (-count, (first, second)) pops them
        cdef priority_queue[pair[int64_t, uint64_t]] heap
        merges = []
        for i in range(n - 1):
            self.add(self.tokens[i], self.tokens[i + 1], i)
        for entry in self.counts:
            heap.push(pair[int64_t, uint64_t](entry.second, ~entry.first))
        while not heap.empty() and len(merges) < n_merges:
            count, key = heap.top().first, ~heap.top().second
            heap.pop()
            current = self.counts.find(key)
            now = deref(current).second if current != self.counts.end() else 0
            if now != count or now == 0:  # stale: re-queue at its current count
                if now > 0:
                    heap.push(pair[int64_t, uint64_t](now, ~key))
                continue
            first, second = <int>(key >> 32), <int>(key & 0xFFFFFFFF)
            new_id = self.piece.size()
            self.piece.push_back(self.piece[first] + self.piece[second])
            merges.append((first, second))
            at.swap(self.positions[key])
            self.positions.erase(key)
            sort(at.begin(), at.end())
            touched.clear()
            for i in at:
                j = self.following[i]
                if not self.alive[i] or j >= n or self.tokens[i] != first or self.tokens[j] != second:
                    continue  # merged away by an earlier occurrence, or recorded before a change
                p, k = self.preceding[i], self.following[j]
                if p >= 0:  # the neighbours' pairs lose this occurrence
                    self.lose(pair_key(self.tokens[p], self.tokens[i]))
                if k < n:
                    self.lose(pair_key(self.tokens[j], self.tokens[k]))
                self.tokens[i], self.alive[j], self.following[i] = new_id, 0, k
                if k < n:
                    self.preceding[k] = i
                if p >= 0 and self.add(self.tokens[p], new_id, p):
                    touched.insert(pair_key(self.tokens[p], new_id))
                right = self.tokens[k] if k < n else SEPARATOR
                if self.add(new_id, right, i):
                    touched.insert(pair_key(new_id, right))
            self.counts.erase(key)
            for new in touched:
                if self.counts[new] > 0:  # a pair made and unmade within this merge has none left
                    heap.push(pair[int64_t, uint64_t](self.counts[new], ~new))
            at.clear()
        return merges


cdef class MergeTable:
    """The merges as ranks, applied to stage 1's ids: the adjacent pair of the lowest rank
    (leftmost first) merges until none is left; merge r gives id first_id + r."""

    cdef unordered_map[uint64_t, int] rank
    cdef int first_id

    def __init__(self, list merges, int first_id):
        self.first_id = first_id
        for r, (first, second) in enumerate(merges):
            self.rank[pair_key(first, second)] = r

    cdef int rank_of(self, int first, int second) noexcept:
        it = self.rank.find(pair_key(first, second))
        return deref(it).second if it != self.rank.end() else -1

    def apply(self, list ids) -> list:
        """Merge the adjacent pair of the lowest rank (leftmost first) until none is left."""
        cdef int64_t n = len(ids), i, j, k, p
        cdef int r, new
        if n < 2:
            return list(ids)
        cdef vector[int] tokens
        cdef vector[int64_t] following, preceding
        cdef vector[uint8_t] alive
        # a max-heap of (-rank, -position): the lowest rank first, then the leftmost
        cdef priority_queue[pair[int, int64_t]] heap
        for token in ids:
            tokens.push_back(token)
        link(n, following, preceding, alive)
        for i in range(n - 1):
            r = self.rank_of(tokens[i], tokens[i + 1])
            if r >= 0:
                heap.push(pair[int, int64_t](-r, -i))
        while not heap.empty():
            r, i = -heap.top().first, -heap.top().second
            heap.pop()
            j = following[i]
            if not alive[i] or j >= n or self.rank_of(tokens[i], tokens[j]) != r:
                continue  # stale: one side was merged away since
            tokens[i], alive[j] = self.first_id + r, 0
            following[i] = k = following[j]
            if k < n:
                preceding[k] = i
                new = self.rank_of(tokens[i], tokens[k])
                if new >= 0:
                    heap.push(pair[int, int64_t](-new, -i))
            p = preceding[i]
            if p >= 0:
                new = self.rank_of(tokens[p], tokens[i])
                if new >= 0:
                    heap.push(pair[int, int64_t](-new, -p))
        return [tokens[i] for i in range(n) if alive[i]]
