"""The MKL PARDISO binding (where ``mkl`` is installed): solves and inertia against dense algebra."""

import numpy as np
import pytest
import scipy.linalg as sl

from ase_deeph2.electronic import pardiso, solve_k
from ase_deeph2.electronic.solvers import ShiftInvert
from ase_deeph2.io import read_scfout
from conftest import run_dir

pytestmark = pytest.mark.skipif(not pardiso.available(), reason="MKL PARDISO not installed (pip install mkl)")


@pytest.mark.parametrize("k", [(0.0, 0.0, 0.0), (0.13, 0.27, 0.0)])  # real (Γ) and complex Hermitian
def test_ldl_solves_and_counts_negative_eigenvalues(k):
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    h_k, s_k = data.hamiltonian.bloch(k, real_if_possible=True), data.overlap.bloch(k, real_if_possible=True)
    sigma = data.fermi_level + 0.0123
    a = (h_k - sigma * s_k).tocsr()
    ldl = pardiso.PardisoLDL(a)
    assert ldl.complex == (not np.allclose(k, 0))
    b = np.random.default_rng(0).normal(size=(a.shape[0], 3)).astype(ldl.dtype)
    x = ldl.solve(b)
    assert np.abs(a @ x - b).max() < 1e-8 * np.abs(b).max()
    dense = sl.eigvalsh(a.toarray())
    if not ldl.complex:
        assert ldl.perturbed_pivots == 0 and ldl.inertia == (int(np.sum(dense > 0)), int(np.sum(dense < 0)))
    # the shift-invert wrapper reports the states below sigma of H c = E S c, real or complex
    states_below = int(np.sum(sl.eigvalsh(h_k.toarray(), s_k.toarray()) < sigma))
    assert ShiftInvert(h_k, s_k, sigma).count_below() == states_below
    ldl.close()


def test_sparse_states_with_pardiso_equal_dense():
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    k = (0.2, 0.1, 0.0)
    dense = solve_k(data.hamiltonian, data.overlap, k, method="dense").energies
    sparse = solve_k(data.hamiltonian, data.overlap, k, method="sparse", nbands=12, sigma=data.fermi_level)
    assert np.abs(dense[sparse.first_band:sparse.first_band + sparse.found] - sparse.energies).max() < 1e-8
