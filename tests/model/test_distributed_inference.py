"""Inference shared out over two torchrun processes gives the one-process H (to float32 rounding)."""

import subprocess
import sys

import numpy as np
from ase.build import graphene
from ase.io import write

from ase_deeph2.io import read_deeph
from conftest import free_port


def test_two_processes_predict_the_same_hamiltonian(tmp_path, tiny_model_file):
    atoms = graphene(a=2.46, vacuum=7.5).repeat((4, 4, 1))
    atoms.positions += np.random.default_rng(0).normal(0, 0.04, atoms.positions.shape)
    write(tmp_path / "sheet.traj", atoms)
    base = [sys.executable, "-m"]
    one = subprocess.run(base + ["ase_deeph2.cli", "predict", str(tmp_path / "sheet.traj"), "--model",
                                 str(tiny_model_file), "-o", str(tmp_path / "one")], capture_output=True, text=True,
                         timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(base + ["torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(), "-m",
                                 "ase_deeph2.cli", "predict", str(tmp_path / "sheet.traj"), "--model",
                                 str(tiny_model_file), "-o", str(tmp_path / "two")], capture_output=True, text=True,
                         timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = read_deeph(tmp_path / "one").hamiltonian, read_deeph(tmp_path / "two").hamiltonian
    assert np.array_equal(a.pairs, b.pairs)
    assert np.abs(a.data - b.data).max() < 1e-6  # eV
