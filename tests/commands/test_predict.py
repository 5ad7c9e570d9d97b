"""`deeph2 predict` writes DeepH folders that read back as the calculator's prediction."""

import numpy as np
import pytest
from ase.build import graphene
from ase.io import write

from ase_deeph2.cli import main
from ase_deeph2.io import read_deeph
from conftest import shared_path


def test_predict_frames_to_deeph_folders(tmp_path, tiny_model_file, capsys):
    base = graphene(a=2.46, vacuum=7.5).repeat((2, 2, 1))
    frames = []
    for seed in range(2):
        atoms = base.copy()
        atoms.positions += np.random.default_rng(seed).normal(scale=0.03, size=atoms.positions.shape)
        frames.append(atoms)
    write(tmp_path / "traj.extxyz", frames)
    assert main(["predict", str(tmp_path / "traj.extxyz"), "--model", str(tiny_model_file), "-o",
                 str(tmp_path / "out"), "--fermi", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("E_F =") == 2 and "8 atoms" in out
    back = read_deeph(tmp_path / "out" / "frame_0001")
    assert np.allclose(back.atoms.positions, frames[1].positions) and back.n_electrons == 32
    # S in the folder is the exact two-centre overlap, computed here from the PAO files
    from ase_deeph2.overlap import overlap_matrix
    exact = overlap_matrix(back.atoms, back.basis, [shared_path("openmx", "PAO")])
    assert exact.aligned_to(back.overlap).error_stats(back.overlap)["max_abs"] < 1e-9
    assert back.hamiltonian.hermiticity_error() < 1e-12
    # the printed Fermi level is that of the written matrices, solved again from the files
    import re
    printed = [float(x) for x in re.findall(r"E_F = (\S+) eV", out)]
    from ase_deeph2 import HamiltonianCalculator
    again = HamiltonianCalculator.from_deeph(tmp_path / "out" / "frame_0001")
    again.atoms.calc = again
    assert again.get_fermi_level() == pytest.approx(printed[1], abs=6e-5)  # printed to 4 decimals


def test_predict_bad_input_is_one_line(tmp_path, tiny_model_file, capsys):
    assert main(["predict", str(tmp_path / "missing.xyz"), "--model", str(tiny_model_file), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "missing.xyz" in err and len(err.splitlines()) == 1
