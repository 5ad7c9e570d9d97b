"""`deeph2 bands` on OpenMX and DeepH inputs."""

from ase_deeph2.cli import main
from ase_deeph2.io import read_scfout, write_deeph
from conftest import run_dir


def test_bands_from_scfout_and_deeph_with_reference(tmp_path, capsys):
    scfout = run_dir("mos2_1x1") / "openmx.scfout"
    assert main(["bands", str(scfout), "--path", "GMKG", "--npoints", "40", "-o", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "indirect gap" in out and (tmp_path / "a.png").is_file()
    folder = write_deeph(tmp_path / "deeph", read_scfout(scfout))
    assert main(["bands", str(folder), "--reference", str(run_dir("mos2_1x1")), "--npoints", "30",
                 "--kpts", "6", "6", "1", "-o", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").stat().st_size > 5000


def test_bad_source_is_one_line(tmp_path, capsys):
    (tmp_path / "junk.scfout").write_text("not binary")
    assert main(["bands", str(tmp_path / "junk.scfout")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deeph2 bands: error:") and "junk.scfout" in err and len(err.splitlines()) == 1


def test_bands_of_a_structure_file_with_a_model(tmp_path, tiny_model_file, capsys):
    from ase.build import graphene
    from ase.io import write

    atoms = graphene(a=2.46, vacuum=7.5)
    atoms.pbc = True
    write(tmp_path / "g.xyz", atoms)  # the calculator must keep the structure the CLI read
    assert main(["bands", str(tmp_path / "g.xyz"), "--model", str(tiny_model_file), "--npoints", "20",
                 "--kpts", "6", "6", "1", "-o", str(tmp_path / "m.png")]) == 0
    assert "Fermi level" in capsys.readouterr().out and (tmp_path / "m.png").is_file()
