"""Dataset cache: OpenMX runs and DeepH folders -> one HDF5 file; split; bad structures skipped."""

import json
import shutil

import numpy as np
import pytest

from ase_deeph2.io import read_scfout
from ase_deeph2.training.dataset import (CachedStructures, build_cache, find_structures, load_or_make_split,
                                         make_split)
from conftest import run_dir, shared_path
from training_helpers import corpus_subset


def test_cache_from_runs_and_deeph_folders(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(run_dir("graphene_1x1"), runs / "a")
    corpus = corpus_subset(tmp_path, 2)
    info = build_cache([runs, corpus], tmp_path / "c.h5")
    assert info["n_structures"] == 3 and info["skipped"] == [] and info["reordered"] == 2
    cache = CachedStructures(tmp_path / "c.h5")
    rec = cache[cache.names.index("runs/a")]
    ref = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    assert np.allclose(rec.atoms.positions, ref.atoms.positions)
    assert np.array_equal(rec.hamiltonian.pairs, ref.hamiltonian.pairs)
    assert np.abs(rec.hamiltonian.data - ref.hamiltonian.data).max() < 1e-5  # float32 targets
    assert rec.fermi_level == pytest.approx(ref.fermi_level)
    with pytest.raises(IndexError):
        cache[3]


def test_bad_structures_are_skipped_with_a_reason(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(run_dir("graphene_1x1"), runs / "good")
    (runs / "unfinished").mkdir()
    shutil.copy(run_dir("graphene_1x1") / "openmx.dat", runs / "unfinished")
    shutil.copytree(run_dir("mos2_1x1"), runs / "zother")  # other elements than the first structure
    info = build_cache(runs, tmp_path / "c.h5")
    reasons = dict(info["skipped"])
    assert info["n_structures"] == 1
    assert "no .scfout (an unfinished OpenMX run" in reasons[str(runs / "unfinished")]
    assert "element Mo is not in the training basis" in reasons[str(runs / "zother")]


def test_nan_target_is_skipped(tmp_path, monkeypatch):
    import ase_deeph2.training.dataset as ds
    real = ds.read_structure

    def poisoned(path):
        data = real(path)
        data.hamiltonians[0].data[5] = np.nan
        return data

    monkeypatch.setattr(ds, "read_structure", poisoned)
    shutil.copytree(run_dir("graphene_1x1"), tmp_path / "runs" / "a")
    with pytest.raises(ValueError, match="no usable structure.*NaN"):
        build_cache(tmp_path / "runs", tmp_path / "c.h5")


def test_split_is_reproducible_and_saved(tmp_path):
    corpus = corpus_subset(tmp_path, 6)
    build_cache(corpus, tmp_path / "c.h5")
    cache = CachedStructures(tmp_path / "c.h5")
    split = load_or_make_split(cache, (0.5, 0.25, 0.25), seed=3)
    saved = json.loads((tmp_path / "c.h5.split.json").read_text())
    assert saved["train"] == split.train and (len(split.train), len(split.validation), len(split.test)) == (2, 2, 2)
    assert sorted(split.train + split.validation + split.test) == list(range(6))
    assert load_or_make_split(cache, (0.5, 0.25, 0.25), seed=3).test == split.test
    with pytest.raises(ValueError, match="another seed"):
        load_or_make_split(cache, (0.5, 0.25, 0.25), seed=4)
    with pytest.raises(ValueError, match="too few"):
        make_split(["a", "b"], (0.4, 0.3, 0.3))
    with pytest.raises(ValueError, match="non-zero training part"):
        make_split(["a", "b", "c"], (0.0, 0.5, 0.5))


def test_missing_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_structures(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no OpenMX runs"):
        build_cache(tmp_path / "empty", tmp_path / "c.h5")


def test_valence_of_a_fixed_stoichiometry_comes_from_the_inputs(tmp_path):
    """Every MoS2 cell has 9 Mo and 18 S: the electron counts cannot separate Mo from S, the OpenMX
    inputs can (Mo_PBE19: 14, S_PBE19: 6); a cache made before the valence was recorded gets it."""
    folder = tmp_path / "mos2"
    folder.mkdir()
    for src in sorted(shared_path("mos2_3x3").iterdir())[:2]:
        (folder / src.name).symlink_to(src)
    build_cache([folder], tmp_path / "c.h5")
    cache = CachedStructures(tmp_path / "c.h5")
    assert cache.electron_statistics(range(len(cache)))[1] == {"Mo": 14.0, "S": 6.0}
    (tmp_path / "c.h5.valence.json").unlink()
    assert CachedStructures(tmp_path / "c.h5").electron_statistics([0, 1])[1] == {}  # counts alone cannot tell
    build_cache([folder], tmp_path / "c.h5")
    assert CachedStructures(tmp_path / "c.h5").electron_statistics([0, 1])[1] == {"Mo": 14.0, "S": 6.0}
