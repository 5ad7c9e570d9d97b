"""Spin-orbit (non-collinear) reading against a real OpenMX run with time reversal broken.

With time reversal, E(k) = E(-k), so eigenvalues cannot see a sign error in the imaginary parts of
the spinor blocks (i -> -i maps E(k) onto E(-k)). A 1000 T Zeeman field on the spins splits the
valleys (E(K) != E(K'), by 0.12 eV here): then OpenMX's eigenvalues at K and at K' separately pin
the sign. Marked ``openmx``: a 3-atom MoS2 run of about a minute.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import scipy.linalg as sl
from ase.build import mx2

from ase_deeph2.io import read_openmx_eigenvalues, read_scfout
from ase_deeph2.training.openmx_runs import OpenMXSettings, openmx_input, run_openmx
from conftest import openmx_binary, openmx_data_path, snap_kpts

pytestmark = pytest.mark.openmx


@pytest.fixture(scope="module")
def zeeman_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("soc")
    atoms = mx2("MoS2", kind="2H", a=3.19, thickness=3.12, vacuum=(20 - 3.12) / 2)
    settings = OpenMXSettings.for_elements(["Mo", "S"], data_path=str(openmx_data_path()), kpts=(3, 3, 1))
    settings.keywords.update({"scf.energycutoff": "100", "scf.criterion": "1.0e-7", "scf.SpinPolarization": "nc",
                              "scf.SpinOrbit.Coupling": "on", "scf.NC.Zeeman.Spin": "on",
                              "scf.NC.Mag.Field.Spin": "1000.0", "scf.Hubbard.Occupation": "dual",
                              "scf.Hubbard.U": "on"})
    text = openmx_input(atoms, settings)
    # non-collinear atom lines: spin up/down (Mo polarised), Euler angles of spin and orbital
    # moments (along z), and the switch that applies the Zeeman field to the atom
    text = re.sub(r"^( 1 Mo .*) 7\.0 7\.0$", r"\1 7.5 6.5 0.0 0.0 0.0 0.0 1 off", text, flags=re.M)
    text = re.sub(r"^( \d S .*) 3\.0 3\.0$", r"\1 3.0 3.0 0.0 0.0 0.0 0.0 1 off", text, flags=re.M)
    text = text.replace("scf.Kgrid 3 3 1", "<Hubbard.U.values\n Mo 1s 0.0 2s 0.0 3s 0.0 1p 0.0 2p 0.0 1d 0.0 2d 0.0\n"
                        " S 1s 0.0 2s 0.0 1p 0.0 2p 0.0 1d 0.0\nHubbard.U.values>\nscf.Kgrid 3 3 1")
    (folder / "openmx.dat").write_text(text)
    run_openmx(folder, openmx=str(openmx_binary()))
    return folder


def test_spin_orbit_eigenvalues_at_k_and_k_prime_are_openmxs(zeeman_run):
    data = read_scfout(zeeman_run / "openmx.scfout")
    assert data.spin == "noncollinear" and data.hamiltonian.spinful
    ref = read_openmx_eigenvalues(zeeman_run / "openmx.out")
    kpts = snap_kpts(ref["kpts"], (3, 3, 1))
    s = data.overlap.to_spinor()
    k_plus, k_minus = (int(np.argmin(np.linalg.norm(kpts - t, axis=1))) for t in ([1 / 3, 1 / 3, 0], [-1 / 3, -1 / 3, 0]))
    theirs_k, theirs_kp = ref["eigenvalues"][0, k_plus], ref["eigenvalues"][0, k_minus]
    near = np.abs(theirs_k - ref["chemical_potential"]) < 10
    assert np.abs(theirs_k - theirs_kp)[near].max() > 0.05  # the field really broke time reversal
    for n, k in enumerate(kpts):
        ours = sl.eigvalsh(data.hamiltonian.to_dense(k), s.to_dense(k))[:ref["eigenvalues"].shape[2]]
        window = np.abs(ref["eigenvalues"][0, n] - ref["chemical_potential"]) < 10
        assert np.abs(ours[window] - ref["eigenvalues"][0, n][window]).max() < 1e-4, f"k = {k}"
