"""The ELCT network: exact equivariance (also for bonds along the polar axis, with 1 and 2 threads),
invariance under translation, permutation and the frames' roll, Hermiticity, batching, chunking,
and that it learns."""

import numpy as np
import pytest
import torch
from ase import Atoms

from ase_deeph2.basis import BasisSet
from ase_deeph2.io import read_scfout
from ase_deeph2.model import (ELCT, ELCTConfig, blocks_from_matrix, build_graph, collate, matrix_from_blocks,
                              predict)
from conftest import run_dir
from model_helpers import distorted_molecule, equivariance_error, make_model, rotated

MOS2 = BasisSet.from_strings({"Mo": "Mo7.0-s3p2d2", "S": "S7.0-s2p2d1"})
#: Equivariance bound relative to the largest block entry: a thousand float64 roundings.
RELATIVE = 1000 * np.finfo(np.float64).eps


def axis_molecule(tilt: float) -> Atoms:
    """MoS2 fragment whose S-S bond lies along +z (tilted by ``tilt`` rad) and a Mo-S bond along -z."""
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -2.4], [1.9, 0.3, 1.1], [1.9, 0.3, 1.1 + 3.1]])
    pos[3] = pos[2] + 3.1 * np.array([np.sin(tilt) * 0.6, np.sin(tilt) * 0.8, np.cos(tilt)])
    return Atoms("MoSSSS", positions=np.vstack([pos, [[-1.2, 1.7, 0.4]]]), pbc=False)


STRUCTURES = {
    "graphene_3x3_perturbed": lambda: (lambda d: (d.atoms, d.basis))(read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")),
    "mos2_1x1": lambda: (lambda d: (d.atoms, d.basis))(read_scfout(run_dir("mos2_1x1") / "openmx.scfout")),
    "molecule": lambda: (distorted_molecule(), MOS2),
    "bond_along_z": lambda: (axis_molecule(0.0), MOS2),
    "bond_1e-9_off_z": lambda: (axis_molecule(1e-9), MOS2),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("lmax", [4, 6])
@pytest.mark.parametrize("name", list(STRUCTURES))
def test_blocks_rotate_as_wigner_d(name, lmax, threads):
    atoms, basis = STRUCTURES[name]()
    model = make_model(basis, lmax=lmax)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        h = predict(model, atoms).hamiltonian
        h_rot = predict(model, rotated(atoms)).hamiltonian
    finally:
        torch.set_num_threads(old)
    scale = np.abs(h.data).max()
    worst = equivariance_error(h, h_rot, basis, atoms.get_chemical_symbols())
    assert scale > 0.1
    assert worst <= RELATIVE * scale, f"equivariance error {worst:.2e} eV (blocks up to {scale:.2f} eV)"


@pytest.mark.parametrize("tilt", [0.0, 1e-9])
def test_bonds_on_the_polar_axis_do_not_see_a_rotation_about_it(tilt):
    """A rotation about z keeps a vertical bond vertical but changes atan2(~0, ~0) of its frame."""
    atoms = axis_molecule(tilt)
    model = make_model(MOS2)
    h = predict(model, atoms).hamiltonian
    angles = (0.9, 0.0, 0.0)  # about z only
    worst = equivariance_error(h, predict(model, rotated(atoms, angles)).hamiltonian, MOS2,
                               atoms.get_chemical_symbols(), angles)
    assert worst <= RELATIVE * np.abs(h.data).max()


def test_translation_permutation_and_roll_invariance():
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    model = make_model(data.basis)
    h = predict(model, data.atoms).hamiltonian
    bound = RELATIVE * np.abs(h.data).max()
    moved = data.atoms.copy()
    moved.positions += [0.31, -1.7, 0.2]
    assert np.abs(predict(model, moved).hamiltonian.aligned_to(h).data - h.data).max() < bound
    perm = np.random.default_rng(0).permutation(len(data.atoms))
    h_perm = predict(model, data.atoms[perm]).hamiltonian
    inverse = np.argsort(perm)
    worst = max(np.abs(h_perm.block(inverse[i], inverse[j], (r1, r2, r3)) - h.block_at(p)).max()
                for p, (r1, r2, r3, i, j) in enumerate(h.pairs))
    assert worst < bound
    graph = build_graph(data.atoms, model.config)
    with torch.no_grad():
        a, b = model(graph), model(graph, gamma="random")
    assert (a - b).abs().max() < bound  # no dependence on the roll of the edge frames


def test_hermitian_by_construction_batch_and_chunks():
    datas = [read_scfout(run_dir(n) / "openmx.scfout") for n in ("mos2_1x1", "mos2_3x3_perturbed")]
    model = make_model(datas[0].basis)
    single = [predict(model, d.atoms, pairs=d.hamiltonian.pairs).hamiltonian for d in datas]
    assert all(h.hermiticity_error() == 0.0 for h in single)
    graphs = [build_graph(d.atoms, model.config, pairs=d.hamiltonian.pairs) for d in datas]
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


def test_unknown_element_and_config_errors():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    model = make_model(data.basis)
    atoms = data.atoms.copy()
    atoms[2].symbol = "Se"
    with pytest.raises(ValueError, match=r"this model: element\(s\) \['Se'\] \(first at atom 2\) have no basis"):
        predict(model, atoms)
    with pytest.raises(ValueError, match="lmax = 3 is too small"):
        ELCTConfig(basis=data.basis.to_strings(), lmax=3)
    with pytest.raises(ValueError, match="norm must be"):
        ELCTConfig(basis=data.basis.to_strings(), norm="batch")


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
