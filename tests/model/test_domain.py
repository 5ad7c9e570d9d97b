"""The training domain: pair-distance histograms and node-feature statistics; new structures like the
training set stay inside, a rotated bond (a Stone-Wales-like defect) does not."""

import numpy as np
import pytest
from ase.build import graphene

from ase_deeph2.basis import BasisSet
from ase_deeph2.graph import overlap_pairs
from ase_deeph2.model import TrainingDomain, predict
from ase_deeph2.training.openmx_runs import perturb
from model_helpers import make_model

BASIS = BasisSet.from_strings({"C": "C6.0-s2p2d1"})


def sheet(reps, seed, strain=0.02):
    base = graphene(a=2.46, vacuum=7.5).repeat((reps, reps, 1))
    return perturb(base, np.random.default_rng(seed), 0.05, strain)


def described(model, atoms):
    found = overlap_pairs(atoms, BASIS.cutoffs(atoms.get_chemical_symbols()))
    return atoms, found, predict(model, atoms, pairs=found).node_features


def rotated_bond(atoms, i, j, angle=np.pi / 6):
    """Rotate the bond i-j by ``angle`` about its midpoint (in the plane)."""
    out = atoms.copy()
    mid = 0.5 * (out.positions[i] + out.positions[j])
    c, s = np.cos(angle), np.sin(angle)
    for k in (i, j):
        d = out.positions[k] - mid
        out.positions[k, :2] = mid[:2] + [c * d[0] - s * d[1], s * d[0] + c * d[1]]
    return out


@pytest.fixture(scope="module")
def domain_and_model():
    model = make_model(BASIS)
    training = [described(model, sheet(3, seed)) for seed in range(12)]
    return TrainingDomain.from_structures(training), model


def test_like_the_training_set_is_inside(domain_and_model):
    domain, model = domain_and_model
    for atoms in (sheet(3, 100), sheet(5, 101), sheet(4, 102, strain=0.0)):
        report = domain.check(*described(model, atoms))
        assert not report, report.messages()


def test_a_rotated_bond_is_outside_and_named(domain_and_model):
    domain, model = domain_and_model
    pristine = graphene(a=2.46, vacuum=7.5).repeat((4, 4, 1))
    found = overlap_pairs(pristine, BASIS.cutoffs(pristine.get_chemical_symbols()))
    bonded = found.pairs[(found.distances > 1.3) & (found.distances < 1.5)]
    i, j = int(bonded[0, 3]), int(bonded[0, 4])
    report = domain.check(*described(model, rotated_bond(pristine, i, j)))
    assert "C-C" in report.unseen_pairs
    n, (a, b), d = report.unseen_pairs["C-C"]
    assert 1.65 < d < 2.3 and {a, b} & {i, j}  # a pair between the shells, involving a moved atom
    assert any("C-C pair(s) at distances no training pair has" in m for m in report.messages())


def test_round_trip_through_plain_data(domain_and_model):
    domain, _ = domain_and_model
    again = TrainingDomain.from_dict(domain.to_dict())
    assert again == domain and isinstance(again.pair_counts["C-C"], list)


def test_pairs_longer_than_any_in_training_are_outside():
    """A domain from compact C3 clusters (pairs up to ~2.2 Å) flags a C4 chain's longer pairs."""
    from ase import Atoms
    model = make_model(BASIS)
    rng = np.random.default_rng(5)
    train = []
    for _ in range(4):
        tri = Atoms("C3", positions=[[0, 0, 0], [1.3, 0, 0], [0.65, 1.1, 0]] + rng.normal(0, 0.02, (3, 3)))
        train.append(described(model, tri))
    domain = TrainingDomain.from_structures(train)
    chain = Atoms("C4", positions=[[0, 0, 0], [1.3, 0, 0], [2.6, 0, 0], [3.9, 0, 0]])
    report = domain.check(*described(model, chain))
    n, _, d = report.unseen_pairs["C-C"]
    assert d > 2.5 and n >= 2  # 2.6 and 3.9 Å: longer than every training pair
