"""Model files: round trip of weights, typed metadata and extras; clear one-line errors on bad files."""

import numpy as np
import pytest
import torch

from ase_deeph2.io import read_scfout
from ase_deeph2.model import FermiLevels, ModelFileError, ModelMetadata, load_model, predict, save_model
from conftest import run_dir
from model_helpers import make_model


def test_save_load_round_trip_and_bad_files(tmp_path):
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    model = make_model(data.basis)
    meta = ModelMetadata(valence_electrons={"Mo": 14.0, "S": 6.0}, fermi_levels=FermiLevels(-4.1, -4.0, -3.9),
                         training={"note": "test"})
    path = save_model(tmp_path / "m.pt", model, metadata=meta, extras={"table": np.arange(3.0)})
    loaded = load_model(path, device="cpu")
    assert loaded.metadata == meta
    assert isinstance(loaded.extras["table"], np.ndarray) and np.array_equal(loaded.extras["table"], np.arange(3.0))
    a, b = predict(model, data.atoms).hamiltonian, predict(loaded.model, data.atoms).hamiltonian
    assert np.array_equal(a.data, b.data)
    payload = torch.load(path, weights_only=True)
    payload["convention_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ModelFileError, match="conventions 99.*upgrade ase_deeph2"):
        load_model(tmp_path / "future.pt")
    payload["convention_version"], payload["format_version"] = 1, 1
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="format 1 .* retrain it"):
        load_model(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError) as err:
        load_model(tmp_path / "junk.pt")
    assert "junk.pt: not an ase_deeph2 model file" in str(err.value) and "\n" not in str(err.value)
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not an ase_deeph2 model file"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
