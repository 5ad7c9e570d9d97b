"""The ELCT model: exact equivariance, Hermiticity, batching, chunking, files, and that it learns."""

import numpy as np
import pytest
import torch
from ase import Atoms
from scipy.linalg import block_diag

from ase_deeph2.io import read_scfout
from ase_deeph2.model import (ELCT, ELCTConfig, ModelFileError, blocks_from_matrix, build_graph, collate,
                              load_model, matrix_from_blocks, save_model)
from ase_deeph2.model.io import _default_dtype
from ase_deeph2.so3 import rotation_matrix, wigner_D
from conftest import run_dir

ANGLES = (0.7, 1.9, -2.3)


def make_model(basis, lmax=4, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = ELCTConfig(basis=basis.to_strings(), lmax=lmax, channels=8, hidden=8, n_blocks=2, n_heads=2, **kw)
    with _default_dtype(torch.float64):
        model = ELCT(cfg)
    for head in [*model.onsite_heads, *model.edge_heads]:  # non-trivial output statistics
        head.scale.uniform_(0.5, 2.0)
        head.offset.normal_()
    return model.double()


def wigner_per_atom(basis, symbols):
    a, b, g = (torch.tensor([x], dtype=torch.float64) for x in ANGLES)
    per_element = {el: block_diag(*[wigner_D(l, a, b, g)[0].numpy() for l in basis[el].ls]) for el in basis}
    return [per_element[s] for s in symbols]


def rotated(atoms):
    R = rotation_matrix(*(torch.tensor([x], dtype=torch.float64) for x in ANGLES))[0].numpy()
    out = atoms.copy()
    out.positions = atoms.positions @ R.T
    out.cell = atoms.cell.array @ R.T
    return out


def distorted_molecule():
    """A non-periodic MoS2-like cluster with no symmetry."""
    rng = np.random.default_rng(4)
    pos = np.array([[0, 0, 0], [1.6, 0.9, 1.5], [1.6, 0.9, -1.6], [-1.5, 1.0, 1.4], [0.1, -1.9, 1.6]], float)
    return Atoms("MoS4", positions=pos + rng.normal(scale=0.1, size=pos.shape), pbc=False)


STRUCTURES = {
    "graphene_3x3_perturbed": lambda: read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout"),
    "mos2_1x1": lambda: read_scfout(run_dir("mos2_1x1") / "openmx.scfout"),
}


@pytest.mark.parametrize("lmax", [4, 6])
@pytest.mark.parametrize("name", [*STRUCTURES, "molecule"])
def test_blocks_rotate_as_wigner_d(name, lmax):
    if name == "molecule":
        from ase_deeph2.basis import BasisSet
        atoms, basis = distorted_molecule(), BasisSet.from_strings({"Mo": "Mo7.0-s3p2d2", "S": "S7.0-s2p2d1"})
    else:
        data = STRUCTURES[name]()
        atoms, basis = data.atoms, data.basis
    model = make_model(basis, lmax=lmax)
    h = model.predict(atoms)
    h_rot = model.predict(rotated(atoms))
    D = wigner_per_atom(basis, atoms.get_chemical_symbols())
    worst, scale = 0.0, np.abs(h.data).max()
    for p, (r1, r2, r3, i, j) in enumerate(h.pairs):
        expected = D[i] @ h.block_at(p) @ D[j].T
        worst = max(worst, np.abs(h_rot.block(i, j, (r1, r2, r3)) - expected).max())
    assert scale > 0.1
    assert worst <= 1e-10, f"equivariance error {worst:.2e} eV (blocks up to {scale:.2f} eV)"


def test_translation_permutation_and_roll_invariance():
    data = STRUCTURES["graphene_3x3_perturbed"]()
    model = make_model(data.basis)
    h = model.predict(data.atoms)
    moved = data.atoms.copy()
    moved.positions += [0.31, -1.7, 0.2]
    assert np.abs(model.predict(moved).aligned_to(h).data - h.data).max() < 1e-11
    perm = np.random.default_rng(0).permutation(len(data.atoms))
    shuffled = data.atoms[perm]
    h_perm = model.predict(shuffled)
    inverse = np.argsort(perm)
    worst = max(np.abs(h_perm.block(inverse[i], inverse[j], (r1, r2, r3)) - h.block_at(p)).max()
                for p, (r1, r2, r3, i, j) in enumerate(h.pairs))
    assert worst < 1e-11
    graph = build_graph(data.atoms, model.config)
    with torch.no_grad():
        a, b = model(graph), model(graph, gamma="random")
    assert (a - b).abs().max() < 1e-11  # no dependence on the roll of the edge frames


def test_hermitian_by_construction_batch_and_chunks():
    datas = [read_scfout(run_dir(n) / "openmx.scfout") for n in ("mos2_1x1", "mos2_3x3_perturbed")]
    model = make_model(datas[0].basis)
    single = [model.predict(d.atoms) for d in datas]
    assert all(h.hermiticity_error() == 0.0 for h in single)
    graphs = [build_graph(d.atoms, model.config) for d in datas]
    batch = collate(graphs)
    with torch.no_grad():
        blocks = model(batch)
        chunked = model(batch, edge_chunk=97)
    for s, h in enumerate(single):
        from_batch = matrix_from_blocks(blocks, batch, structure=s)
        assert np.array_equal(from_batch.pairs, h.pairs)
        assert np.abs(from_batch.data - h.data).max() < 1e-11
    assert (blocks - chunked).abs().max() < 1e-11
    assert not blocks[~batch.block_mask].any()  # padding stays zero


def test_pairs_follow_the_openmx_pairs_and_targets_round_trip():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    model = make_model(data.basis)
    graph = build_graph(data.atoms, model.config)
    assert sorted(map(tuple, graph.pairs.numpy())) == sorted(map(tuple, data.hamiltonian.pairs))
    target = blocks_from_matrix(data.hamiltonian, graph)
    back = matrix_from_blocks(target, graph)
    assert np.array_equal(back.aligned_to(data.hamiltonian).data, data.hamiltonian.data)


def test_save_load_round_trip_and_bad_files(tmp_path):
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    model = make_model(data.basis)
    path = save_model(tmp_path / "m.pt", model, metadata={"note": "test", "distance_range": {"Mo-S": [2.0, 6.0]}},
                      extras={"table": torch.arange(3.0)})
    loaded = load_model(path, device="cpu")
    assert loaded.metadata["note"] == "test" and torch.equal(loaded.extras["table"], torch.arange(3.0))
    a, b = model.predict(data.atoms), loaded.model.predict(data.atoms)
    assert np.array_equal(a.data, b.data)
    payload = torch.load(path, weights_only=True)
    payload["convention_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ModelFileError, match="conventions 99.*upgrade ase_deeph2"):
        load_model(tmp_path / "future.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.pt: not a readable"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not an ase_deeph2 model file"):
        load_model(tmp_path / "other.pt")


def test_unknown_element_and_config_errors():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    model = make_model(data.basis)
    atoms = data.atoms.copy()
    atoms[2].symbol = "Se"
    with pytest.raises(ValueError, match=r"element\(s\) \['Se'\] \(first at atom 2\) unknown to this model"):
        model.predict(atoms)
    with pytest.raises(ValueError, match="lmax = 3 is too small"):
        ELCTConfig(basis=data.basis.to_strings(), lmax=3)


def test_a_few_steps_fit_real_hamiltonian_blocks():
    """Adam on one real structure: the error falls by an order of magnitude in 60 steps."""
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    torch.manual_seed(0)
    model = ELCT(ELCTConfig(basis=data.basis.to_strings(), channels=8, hidden=8, n_blocks=1, n_heads=2))
    graph = build_graph(data.atoms, model.config, pairs=data.hamiltonian.pairs)
    target = blocks_from_matrix(data.hamiltonian, graph).float()
    model.fit_output_statistics([(graph, target)])
    mask = graph.block_mask
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    errors = []
    for _ in range(60):
        opt.zero_grad()
        loss = ((model(graph, gamma="random") - target)[mask] ** 2).mean()
        loss.backward()
        opt.step()
        errors.append(loss.item())
    assert errors[-1] < 0.1 * errors[0]
