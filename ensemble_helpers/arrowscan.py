"""Whole-column scans of Arrow text on its buffers, with NumPy: quick answers for valid files.

The data contract (:mod:`ensemble_helpers.schema`) checks a million patient ids for control
characters, padding and repeats. Regular expressions and hash tables over a million strings take
a large part of a second; these scans read the offsets and bytes of the Arrow arrays directly and
take a few milliseconds. Each is a *gate*: :func:`suspect_text` may say "look closer" about a
value that is fine, and two different ids may share a :func:`hash64` value, but a value that
breaks a rule is never missed. The contract then runs its exact check only where a gate opens.

Examples
--------
>>> import pyarrow as pa
>>> suspect_text(pa.array(["P001", "P002"]), edges=True)
False
>>> suspect_text(pa.array(["P001", " P002"]), edges=True)
True
>>> h = hash64(pa.array(["P001", "P002", "P001"]))
>>> bool(h[0] == h[2]), bool(h[0] == h[1])
(True, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["hash64", "suspect_text"]


# splitmix64's finaliser (Steele, Lea & Flood 2014): every input bit moves about half the output bits
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _chunks(arr: Any) -> list[pa.Array]:
    """The chunks of a text column as ``string`` or ``large_string`` arrays (many small chunks,
    as pyarrow reads a CSV file, joined into one)."""
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks > 16:
        arr = arr.combine_chunks()
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    out = []
    for ch in chunks:
        if not (pa.types.is_string(ch.type) or pa.types.is_large_string(ch.type)):
            ch = ch.cast(pa.string())  # a string view, or a dictionary of text
        out.append(ch)
    return out


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, bytes)`` of a string array: value ``i`` is ``bytes[offsets[i]:offsets[i + 1]]``."""
    _, offsets, data = chunk.buffers()
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offsets, dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64), data


def suspect_text(arr: Any, edges: bool) -> bool:
    """Whether some value of a text column may hold a control character, or (``edges``) may be
    empty or begin or end with whitespace.

    Parameters
    ----------
    arr : pyarrow.Array or pyarrow.ChunkedArray
        Text (``string``, ``large_string``, ``string_view`` or a dictionary of text).
    edges : bool
        Also look at the first and last byte of each value and at empty values (ids).

    Returns
    -------
    bool
        False only when no value has a control character (and, with ``edges``, every value
        begins and ends with a printable ASCII character other than a space). True may be a
        false alarm (a missing value's slot, an accented first letter): look closer.
    """
    for chunk in _chunks(arr):
        if len(chunk) == 0:
            continue
        offsets, data = _buffers(chunk)
        if _control(data[offsets[0]: offsets[-1]]):
            return True
        if not edges:
            continue
        starts, ends = offsets[:-1], offsets[1:]
        if chunk.null_count:
            valid = np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            starts, ends = starts[valid], ends[valid]
        if (ends <= starts).any():
            return True
        for edge in (data[starts], data[ends - 1]):
            # a space or control character, or a byte of a non-ASCII character (the contract's
            # regular expressions read whitespace as ASCII: this keeps the gate wider than them)
            if (edge <= 0x20).any() or (edge >= 0x7F).any():
                return True
    return False


def _control(data: np.ndarray) -> bool:
    """Whether bytes hold an ASCII control character (0x00-0x1f or 0x7f), a megabyte at a time."""
    for start in range(0, len(data), 1 << 20):
        part = data[start: start + (1 << 20)]
        if (part < 0x20).any() or (part == 0x7F).any():
            return True
    return False


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S30)
    h *= _M1
    h ^= h >> _S27
    h *= _M2
    h ^= h >> _S31
    return h


def hash64(arr: Any) -> np.ndarray:
    """A 64-bit hash of each non-missing value of a text column.

    Equal values get equal hashes; different values almost always get different ones (the
    length and every 8 bytes of the UTF-8 text are combined with splitmix64's mixing function;
    two values of one length of at most 8 bytes never share a hash), so a column whose hashes
    are all different has no repeated value. Values of one length are read as a matrix of bytes
    without copying them (ids usually all have the same length).

    Parameters
    ----------
    arr : pyarrow.Array or pyarrow.ChunkedArray
        Text (``string``, ``large_string``, ``string_view`` or a dictionary of text).

    Returns
    -------
    numpy.ndarray
        ``uint64``, one hash per non-missing value, in row order.
    """
    parts = []
    for chunk in _chunks(arr):
        if chunk.null_count:
            chunk = chunk.drop_null()
        if len(chunk) == 0:
            continue
        offsets, data = _buffers(chunk)
        starts, lengths = offsets[:-1], np.diff(offsets)
        hashes = np.empty(len(chunk), np.uint64)
        distinct_lengths = np.flatnonzero(np.bincount(lengths))
        for length in distinct_lengths:
            if len(distinct_lengths) == 1:  # one length: the bytes are an (n, length) matrix already
                rows = slice(None)
                block = data[offsets[0]: offsets[-1]].reshape(len(chunk), length)
            else:
                rows = np.flatnonzero(lengths == length)
                windows = np.lib.stride_tricks.sliding_window_view(data, length)
                block = windows[starts[rows]] if length else np.zeros((len(rows), 0), np.uint8)
            if length % 8:  # pad each value with zero bytes to whole 64-bit words
                padded = np.zeros((block.shape[0], -(-length // 8) * 8), np.uint8)
                padded[:, :length] = block
                block = padded
            # the length, mixed, then word by word: h = mix(h) ^ word (mix is a bijection, so
            # values of one length that differ in their last word still get different hashes)
            h = _mix(np.array([length], np.uint64))
            for k, word in enumerate(np.ascontiguousarray(block).view("<u8").T):
                h = (_mix(h) if k else h) ^ word
            hashes[rows] = h
        parts.append(hashes)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)
