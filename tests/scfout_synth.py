"""Re-encode a real spinless OpenMX 3.9 .scfout with another spin layout (tests only).

No collinear or non-collinear runs are shared, so the reader's spin paths are tested on files
built from a real spinless one, byte for byte in OpenMX's layout (see OpenMX's read_scfout.c):
header, H (SpinP_switch + 1 copies), iH (3, non-collinear only), S, position (3 * order_max) and
momentum (3) matrices, DM (SpinP_switch + 1), iDM (2), trailer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def sections(path: Path) -> dict:
    """Split a spinless version-3 .scfout into raw sections."""
    buf = path.read_bytes()
    head = np.frombuffer(buf, "<i4", 7)
    natoms, tcell, order_max = int(head[0]), int(head[5]), int(head[6])
    assert head[1] == 12, "needs a spinless version-3 file"
    pos = 28 + 32 * (tcell + 1) + 16 * (tcell + 1)
    norb = np.frombuffer(buf, "<i4", natoms, pos).astype(np.int64)
    fnan = np.frombuffer(buf, "<i4", natoms, pos + 4 * natoms).astype(np.int64)
    pos += 8 * natoms
    n_pairs = int((fnan + 1).sum())
    natn = np.frombuffer(buf, "<i4", n_pairs, pos).astype(np.int64) - 1
    pos += 8 * n_pairs + 8 * 24 + 32 * natoms
    i_atom = np.repeat(np.arange(natoms), fnan + 1)
    n = int((norb[i_atom] * norb[natn]).sum())
    body = np.frombuffer(buf, "<f8", n * (1 + 1 + 3 * order_max + 3 + 1 + 2), pos).reshape(-1, n)
    return {"head": buf[:pos], "H": body[0], "S": body[1], "po_mo": body[2:2 + 3 * order_max + 3],
            "DM": body[2 + 3 * order_max + 3], "iDM": body[-2:], "tail": buf[pos + body.nbytes:],
            "n": n}


def write_spin_variant(src: Path, dst: Path, spin_switch: int, h_parts: list[np.ndarray] | None = None,
                       ih_parts: list[np.ndarray] | None = None) -> None:
    """Write ``dst``: ``src`` re-encoded with SpinP_switch 1 (collinear) or 3 (non-collinear).

    ``h_parts``: the SpinP_switch + 1 H arrays (default: copies of the spinless H, and zeros for the
    off-diagonal spin parts); ``ih_parts``: the 3 imaginary arrays of a non-collinear file (default zeros).
    """
    sec = sections(src)
    head = bytearray(sec["head"])
    head[4:8] = np.array([4 * 3 + spin_switch], "<i4").tobytes()
    n_h = spin_switch + 1
    if h_parts is None:
        h_parts = [sec["H"], sec["H"]] + [np.zeros(sec["n"])] * (n_h - 2)
    chunks = [bytes(head), *(np.asarray(h, "<f8").tobytes() for h in h_parts)]
    if spin_switch == 3:
        ih_parts = ih_parts if ih_parts is not None else [np.zeros(sec["n"])] * 3
        chunks += [np.asarray(h, "<f8").tobytes() for h in ih_parts]
    chunks += [sec["S"].tobytes(), sec["po_mo"].tobytes()]
    chunks += [sec["DM"].tobytes()] * n_h + [sec["iDM"].tobytes(), sec["tail"]]
    dst.write_bytes(b"".join(chunks))
