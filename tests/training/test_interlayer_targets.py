"""Training without the interlayer step: targets lose a known step, the cache records it, and the
model file carries the coupling fitted on its training bilayers."""

import numpy as np
import pytest

from ase_deeph2.electronic.interlayer import fit_layer_coupling, layer_step_operator, onsite_layer_step, two_layers
from ase_deeph2.io import read_scfout, write_deeph
from ase_deeph2.model import load_model
from ase_deeph2.training.dataset import CachedStructures, build_cache
from ase_deeph2.training.interlayer import fit_coupling, remove_layer_step
from ase_deeph2.training.loop import Trainer
from conftest import run_dir
from training_helpers import make, tiny_config

ADDED = (0.04, -0.03, 0.02, 0.06)  # eV


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    """The AB bilayer run with known steps added: DeepH folders beside its OpenMX input (for its k mesh)."""
    folder = tmp_path_factory.mktemp("stepped")
    data = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")
    operator = layer_step_operator(data.overlap, two_layers(data.atoms))
    dat = (run_dir("bilayer_graphene_1x1") / "openmx.dat").read_text()
    h = data.hamiltonian
    for n, v in enumerate(ADDED):
        data.hamiltonians = [h.with_data(h.data + v * operator.data)]
        write_deeph(folder / f"s{n}", data, extra_files={"openmx.dat": dat})
    return folder, read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")


def test_targets_lose_the_step_that_was_added(stepped, tmp_path):
    folder, original = stepped
    layer = two_layers(original.atoms)
    base = onsite_layer_step(original.hamiltonian, layer)
    info = build_cache(folder, tmp_path / "c.h5", interlayer_step=True, progress=False)
    assert info["n_structures"] == 4
    cache = CachedStructures(tmp_path / "c.h5")
    assert cache.interlayer_step_removed
    steps, transfers = cache.layers["layer_step"], cache.layers["layer_transfer"]
    order = [cache.names.index(f"{folder.name}/s{n}") for n in range(4)]
    assert steps[order] == pytest.approx(base + np.array(ADDED), abs=1e-6)
    assert np.all(np.sign(transfers[order]) == -np.sign(ADDED))  # a higher upper layer holds fewer electrons
    for n in order:  # every target is the step-free H of the run
        target = cache[n].hamiltonian.aligned_to(original.hamiltonian)
        expected, _ = remove_layer_step(original)
        assert np.abs(target.data - expected.data).max() < 2e-5
    with pytest.raises(ValueError, match="built with data.interlayer_step.*delete the cache"):
        build_cache(folder, tmp_path / "c.h5", interlayer_step=False)


def test_a_structure_that_is_no_bilayer_is_kept_as_it_is():
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    h, record = remove_layer_step(data)
    assert h is data.hamiltonian and record is None
    assert fit_coupling(np.full(3, np.nan), np.full(3, np.nan), np.full(3, np.nan)) is None


def test_the_model_file_carries_the_coupling_of_its_training_bilayers(stepped, tmp_path):
    folder, _ = stepped
    raw = tiny_config(tmp_path, [str(folder)], epochs=1)
    raw["data"]["interlayer_step"] = True
    trainer = Trainer(make(raw, tmp_path), resume=False, progress=False)
    with pytest.warns(UserWarning, match="not a capacitor"):  # steps put in by hand push charge the other way
        trainer.train()
    coupling = load_model(tmp_path / "run" / "model.pt", device="cpu").metadata.interlayer
    train = trainer.split.train
    layers = trainer.structures.layers
    kappa, correlation = fit_layer_coupling(layers["layer_step"][train], layers["layer_transfer"][train],
                                            layers["layer_area"][train])
    assert coupling.structures == len(train) == 2 and kappa < 0 and coupling.coupling == 0.0
    assert coupling.correlation == pytest.approx(correlation)


def test_a_capacitor_is_fitted_and_a_field_is_not():
    transfers, areas = np.array([0.01, -0.02, 0.005, np.nan]), np.array([47.0, 47.0, 5.2, np.nan])
    coupling = fit_coupling(120.0 * transfers / areas, transfers, areas)
    assert coupling.coupling == pytest.approx(120.0) and coupling.structures == 3
