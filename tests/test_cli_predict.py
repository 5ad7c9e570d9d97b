"""`deeph2 predict` writes DeepH folders that read back as the calculator's prediction."""

import numpy as np
from ase.build import graphene
from ase.io import write

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.cli import main
from ase_deeph2.io import read_deeph


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
    expected = DeepH2Calculator(tiny_model_file).get_hamiltonian(frames[1])
    assert np.abs(back.hamiltonian.to_dense() - expected.to_dense()).max() < 1e-5  # float32 network, xyz rounding
    assert np.allclose(back.atoms.positions, frames[1].positions)


def test_predict_bad_input_is_one_line(tmp_path, tiny_model_file, capsys):
    assert main(["predict", str(tmp_path / "missing.xyz"), "--model", str(tiny_model_file), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "missing.xyz" in err and len(err.splitlines()) == 1
