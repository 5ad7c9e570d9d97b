"""What a new user meets: molecules, empty structures, bad model files, metals, missing data, help."""

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.cli import main
from ase_deeph2.io import read_deeph


def ring(n=6, radius=1.39):
    phi = 2 * np.pi * np.arange(n) / n
    return Atoms(f"C{n}", positions=np.stack([radius * np.cos(phi), radius * np.sin(phi), 0 * phi], 1))


def test_a_molecule_without_a_cell_gets_gamma_only(tiny_model_file, tmp_path, capsys):
    atoms = ring()
    atoms.calc = DeepH2Calculator(tiny_model_file)
    assert np.array_equal(atoms.calc.get_ibz_k_points(), np.zeros((1, 3)))
    gap = atoms.calc.band_gap()  # HOMO-LUMO at Γ, no special points, no spglib
    assert np.array_equal(gap.k_vbm, np.zeros(3)) and (gap.gap > 0 or gap.metal)
    boxed = ring()
    boxed.center(vacuum=8.0)
    boxed.pbc = True  # a molecule in a periodic box: no pair crosses the boundary, so no k sampling
    boxed.calc = DeepH2Calculator(tiny_model_file)
    assert len(boxed.calc.get_ibz_k_points()) == 1
    assert boxed.calc.get_fermi_level() == pytest.approx(atoms.calc.get_fermi_level(), abs=1e-6)
    write(tmp_path / "ring.xyz", ring())
    assert main(["predict", str(tmp_path / "ring.xyz"), "--model", str(tiny_model_file), "-o", str(tmp_path / "p")]) == 0
    back = read_deeph(tmp_path / "p")
    assert len(back.atoms) == 6 and not back.hamiltonian.pairs[:, :3].any()  # boxed: no periodic images
    assert main(["bands", str(tmp_path / "ring.xyz"), "--model", str(tiny_model_file)]) == 1
    assert "no periodic direction" in capsys.readouterr().err
    assert main(["dos", str(tmp_path / "ring.xyz"), "--model", str(tiny_model_file), "-o", str(tmp_path / "d.png")]) == 0


def test_empty_structure_and_bad_model_file_are_one_line(tiny_model_file, tmp_path, capsys):
    empty = Atoms()
    empty.calc = DeepH2Calculator(tiny_model_file)
    with pytest.raises(ValueError, match="no atoms"):
        empty.calc.get_fermi_level()
    write(tmp_path / "empty.xyz", Atoms())
    assert main(["predict", str(tmp_path / "empty.xyz"), "--model", str(tiny_model_file), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and ("no atoms" in err or "no frames" in err)
    (tmp_path / "junk.pt").write_bytes(np.random.default_rng(0).bytes(2048))
    write(tmp_path / "g.xyz", ring())
    assert main(["dos", str(tmp_path / "g.xyz"), "--model", str(tmp_path / "junk.pt")]) == 1
    err = capsys.readouterr().err
    assert "junk.pt: not an ase_deeph2 model file" in err and len(err.splitlines()) == 1


def test_help_and_missing_training_data(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "band structures, DOS" in out and "deeph2 bands structure.xyz" in out and "Each command module" not in out
    config = tmp_path / "c.toml"
    config.write_text('[data]\nsources = ["../../shared/data/nowhere"]\n[output]\ndir = "run"\n')
    assert main(["train", str(config)]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "deeph2 dft" in err and len(err.splitlines()) == 1
