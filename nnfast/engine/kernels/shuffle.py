"""The book's ``random.shuffle(training_data)``, replayed exactly on an index array (Python's MT19937)."""

from .jit import helper, kernel


@helper
def _mt_next(mt, pos):
    """Python's MT19937 ``genrand_uint32``: (next 32-bit output, new position); refills ``mt`` in place."""
    if pos >= 624:
        for kk in range(624):
            y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % 624] & 0x7FFFFFFF)
            v = mt[(kk + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[kk] = v
        pos = 0
    y = mt[pos]
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y, pos + 1


@kernel
def shuffle_like_python(mt, pos, x):
    """Shuffle ``x`` in place exactly as ``random.shuffle`` would with the Mersenne Twister state
    ``mt`` (624 uint64 words holding 32-bit values) at position ``pos``; returns the new position.

    Same draws as CPython 3.11+: for i from len-1 down to 1, j = randbelow(i + 1)
    by rejection on getrandbits(k), k = (i + 1).bit_length() <= 32.
    """
    for i in range(x.shape[0] - 1, 0, -1):
        n = i + 1
        k = 0
        while (n >> k) != 0:
            k += 1
        while True:
            word, pos = _mt_next(mt, pos)
            r = word >> (32 - k)
            if r < n:
                break
        t = x[i]
        x[i] = x[r]
        x[r] = t
    return pos
