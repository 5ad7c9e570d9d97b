"""Grow a trained ELCT deeper or wider without changing what it predicts (net2net-style).

**Deeper** (:func:`grow_blocks`). Every :class:`~.block.ELCTBlock` is residual:
``e += edge_out(...)``, ``x += att_out(...)`` and ``x += ffn(...)``. A block whose three output maps
are zero is therefore the identity. A model with more blocks starts from a trained one when it
takes over all of the trained weights and adds its extra blocks at the end with zero output maps:
it predicts exactly the trained model's blocks. The zero maps get gradient at once, because the
features that feed them are not zero.

**Wider** (:func:`widen_channels`). ``channels`` and ``hidden`` may grow by whole factors k. Each
old channel c gets k copies (new channels c, c + C, ... ; inside every attention head for the
hidden channels), so every feature of the wide network is the old feature repeated. What consumes
a feature (a linear map's input, a Wigner-Eckart head) splits the old weight of c over its copies
with random positive fractions that sum to one, so it computes exactly the old sum. Everything
else acts channel by channel (gates, SiLU) or averages over channels (the layer norms' mean and
RMS), which a k-fold repetition leaves unchanged. The fractions differ between the copies and
between the consumers, so the copies get different gradients and drift apart in training.

**Finer radial part** (:func:`refine_radial`). ``n_rbf`` may grow to any larger number and
``radial_hidden`` by a whole factor. The hidden units of every radial MLP are copied like channels
(exact). A radial basis of more, narrower Gaussians spans the old one closely but not exactly: each
old Gaussian is written as the least-squares combination of the new ones over the scaled distances
0.05 <= x < 1 (the envelope's weight; shorter bonds do not occur), and the first layer takes the
old weights through that combination. Over 0.05 <= x < 1 the old basis is reproduced to
``RADIAL_FIT_TOLERANCE`` of its unit peak (16 -> 32 Gaussians: 2e-4), so the refined model
predicts the trained blocks to that relative precision; the first steps of training remove it.

Training then goes on from the trained function with the capacity of the larger network, instead
of starting from random weights. :func:`grow` does all three.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["grow", "grow_blocks", "widen_channels", "refine_radial", "radial_projection", "RADIAL_FIT_TOLERANCE"]

#: largest deviation of the refitted old radial basis (envelope-weighted, peak 1) that refine_radial accepts
RADIAL_FIT_TOLERANCE = 1e-3
#: shortest scaled distance |r_ij| / (rc_i + rc_j) the radial basis is refitted on (H2: 0.74 / 12 = 0.06)
_RADIAL_FIT_FROM = 0.05


def _zero_outputs(block: nn.Module) -> None:
    with torch.no_grad():
        for layer in (block.edge_out, block.att_out, block.ffn.outer):
            for p in layer.parameters():
                p.zero_()


def grow_blocks(trained: nn.Module, grown: nn.Module) -> None:
    """Copy the weights of ``trained`` (an ELCT) into ``grown`` in place. ``grown`` is the same
    architecture with more blocks (``n_blocks``). Its extra blocks come last and start as the
    identity, so ``grown`` predicts the same blocks as ``trained``.

    Raises:
        ValueError: the two models differ in more than their depth, or ``grown`` is not deeper.
    """
    n_old, n_new = len(trained.blocks), len(grown.blocks)
    if n_new <= n_old:
        raise ValueError(f"cannot grow a model of {n_old} blocks into one of {n_new}: it must get deeper")
    mine = grown.state_dict()
    for name, value in trained.state_dict().items():
        if name not in mine or mine[name].shape != value.shape:
            raise ValueError(f"cannot grow the model: its {name} {tuple(value.shape)} has no counterpart of "
                             f"that shape in the deeper one (they must differ in n_blocks only)")
        mine[name] = value
    grown.load_state_dict(mine)
    for block in list(grown.blocks)[n_old:]:
        _zero_outputs(block)


class _Copies:
    """Which old channel each of the k * n new channels repeats; ``groups`` contiguous groups
    (attention heads) keep their channels: new (g, j) repeats old (g, j mod n/groups)."""

    def __init__(self, n_old: int, n_new: int, what: str, groups: int = 1):
        if n_new < n_old or n_new % n_old:
            raise ValueError(f"cannot widen {what} from {n_old} to {n_new}: the new width must be a whole "
                             f"multiple of the old one")
        d_old, d_new = n_old // groups, n_new // groups
        new = torch.arange(n_new)
        self.source = (new // d_new) * d_old + (new % d_new) % d_old
        self.n_old, self.n_new = n_old, n_new

    def fractions(self, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
        """(n_new,) random positive weights summing to one over the copies of each old channel."""
        w = 0.5 + torch.rand(self.n_new, generator=generator, dtype=torch.float64)
        total = torch.zeros(self.n_old, dtype=torch.float64).index_add_(0, self.source, w)
        return (w / total[self.source]).to(dtype)


class _Widener:
    """Writes the weights of a narrow model into a wide one, tensor by tensor."""

    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    @staticmethod
    def _repeat(t: torch.Tensor, dim: int, copies: _Copies) -> torch.Tensor:
        """Dimension ``dim`` of t is (outer, n_old) flattened, channel fastest -> (outer, n_new)."""
        dim = dim % t.dim()
        shape = t.shape
        grouped = t.reshape(*shape[:dim], -1, copies.n_old, *shape[dim + 1:])
        out = grouped.index_select(dim + 1, copies.source.to(t.device))
        return out.reshape(*shape[:dim], -1, *shape[dim + 1:])

    def tensor(self, t: torch.Tensor, out: tuple[int, _Copies] | None = None,
               inp: tuple[int, _Copies] | None = None) -> torch.Tensor:
        """t with its output dimension repeated and its input dimension repeated and split."""
        if out is not None:
            t = self._repeat(t, *out)
        if inp is not None:
            dim, copies = inp
            t = self._repeat(t, dim, copies)
            f = copies.fractions(self.generator, t.dtype).to(t.device)
            shape = [1] * t.dim()
            shape[dim % t.dim()] = -1
            t = t * f.repeat(t.shape[dim] // copies.n_new).reshape(shape)
        return t

    def linear(self, old: nn.Linear, new: nn.Linear, c_in: _Copies | None, c_out: _Copies | None) -> None:
        """nn.Linear: weight (out, in), bias (out,)."""
        new.weight.copy_(self.tensor(old.weight, out=(0, c_out) if c_out else None, inp=(1, c_in) if c_in else None))
        if old.bias is not None:
            new.bias.copy_(self.tensor(old.bias, out=(0, c_out)) if c_out else old.bias)

    def so2(self, old, new, c_in: _Copies, c_out: _Copies) -> None:
        self.linear(old.linear_zero, new.linear_zero, c_in, c_out)
        for a, b in zip(old.linear_m, new.linear_m):
            self.linear(a, b, c_in, c_out)

    def o3(self, old, new, c_in: _Copies, c_out: _Copies) -> None:
        new.weight.copy_(self.tensor(old.weight, out=(2, c_out), inp=(1, c_in)))
        new.bias.copy_(self.tensor(old.bias, out=(0, c_out)))

    def norm(self, old, new, c: _Copies) -> None:
        new.weight.copy_(self.tensor(old.weight, out=(1, c)))
        new.bias.copy_(self.tensor(old.bias, out=(0, c)))

    def gate(self, old, new, c: _Copies) -> None:
        self.linear(old.gate, new.gate, c, c)

    def radial(self, old: nn.Sequential, new: nn.Sequential, c_out: _Copies) -> None:
        for a, b in zip(list(old)[:-1], list(new)[:-1]):
            b.load_state_dict(a.state_dict())
        self.linear(old[-1], new[-1], None, c_out)


def _refuse_other_changes(trained: nn.Module, new: nn.Module, may_grow: tuple[str, ...], what: str) -> tuple[dict, dict]:
    """Both configurations as dicts; ValueError if they differ in anything but ``may_grow`` (and fitted fields)."""
    a, b = trained.config.to_dict(), new.config.to_dict()
    other = sorted(k for k in a if k not in (*may_grow, "avg_neighbors") and a[k] != b.get(k))
    if other:
        raise ValueError(f"cannot {what}: it differs in {', '.join(other)} too "
                         f"(only {' and '.join(may_grow)} may grow)")
    return a, b


def radial_projection(n_old: int, n_new: int) -> torch.Tensor:
    """(n_old, n_new) float64 P with RadialBasis(n_old)(x) ~= P @ RadialBasis(n_new)(x) on 0.05 <= x < 1.

    Raises:
        ValueError: the new basis does not reproduce the old one to RADIAL_FIT_TOLERANCE.
    """
    from .layers import RadialBasis

    x = torch.linspace(_RADIAL_FIT_FROM, 1.0, 4000, dtype=torch.float64)
    old, new = (RadialBasis(n).to(torch.float64) for n in (n_old, n_new))
    envelope = RadialBasis.envelope(x)[:, None]
    g_old, g_new = old.gaussians(x), new.gaussians(x)
    p = torch.linalg.lstsq(envelope * g_new, envelope * g_old).solution.T
    deviation = float((envelope * (g_new @ p.T - g_old)).abs().max())
    if deviation > RADIAL_FIT_TOLERANCE:
        raise ValueError(f"cannot refine the radial basis from {n_old} to {n_new} Gaussians: the new ones "
                         f"reproduce the old to {deviation:.1e}, not {RADIAL_FIT_TOLERANCE:.0e} (use more)")
    return p


def refine_radial(trained: nn.Module, fine: nn.Module, seed: int = 0) -> None:
    """Copy the weights of ``trained`` (an ELCT) into ``fine`` in place. ``fine`` is the same
    architecture with more radial basis functions (``n_rbf``, any larger number) and/or radial MLPs
    wider by a whole factor (``radial_hidden``); it predicts the trained blocks to the precision of
    the basis refit (module docstring). ``seed`` draws the weight splits of the copied hidden units.

    Raises:
        ValueError: the two differ in anything else, ``n_rbf`` shrinks, or ``radial_hidden`` does not
            grow by a whole factor.
    """
    from .layers import RadialMLP

    a, b = _refuse_other_changes(trained, fine, ("n_rbf", "radial_hidden"), "refine the radial part")
    if b["n_rbf"] < a["n_rbf"]:
        raise ValueError(f"cannot refine the radial basis from {a['n_rbf']} to {b['n_rbf']} Gaussians: it must grow")
    R = _Copies(a["radial_hidden"], b["radial_hidden"], "radial_hidden")
    dtype = next(trained.parameters()).dtype
    project = radial_projection(a["n_rbf"], b["n_rbf"]).to(dtype) if b["n_rbf"] != a["n_rbf"] else None
    n_rbf = a["n_rbf"]
    w = _Widener(seed)
    radial = {name for name, m in trained.named_modules() if isinstance(m, RadialMLP)}
    with torch.no_grad():
        mine = fine.state_dict()
        for name, value in trained.state_dict().items():
            if name != "rbf.centers" and name.rsplit(".", 2)[0] not in radial:
                mine[name] = value
        fine.load_state_dict(mine)
        olds, news = dict(trained.named_modules()), dict(fine.named_modules())
        for name in radial:
            old, new = olds[name], news[name]
            first = old[0].weight
            if project is not None:
                first = torch.cat([first[:, :n_rbf] @ project.to(first.device), first[:, n_rbf:]], dim=1)
            new[0].weight.copy_(w.tensor(first, out=(0, R)))
            new[0].bias.copy_(w.tensor(old[0].bias, out=(0, R)))
            w.linear(old[2], new[2], R, R)
            w.linear(old[4], new[4], R, None)
    fine.config.avg_neighbors = trained.config.avg_neighbors


def widen_channels(trained: nn.Module, wide: nn.Module, seed: int = 0) -> None:
    """Copy the weights of ``trained`` (an ELCT) into ``wide`` in place, so that ``wide`` predicts
    the same blocks. ``wide`` is the same architecture with ``channels`` and ``hidden`` multiplied
    by whole factors (either may stay); ``seed`` draws the weight splits between the copies.

    Raises:
        ValueError: the two differ in anything but their widths, or a width does not grow by a whole factor.
    """
    a, b = _refuse_other_changes(trained, wide, ("channels", "hidden"), "widen the model")
    C = _Copies(a["channels"], b["channels"], "channels")
    C3 = _Copies(3 * a["channels"], 3 * b["channels"], "channels", groups=3)  # [x_i, x_j, e_ij], each as C
    H = _Copies(a["hidden"], b["hidden"], "hidden", groups=a["n_heads"])
    F = _Copies(2 * a["channels"], 2 * b["channels"], "channels")  # the FFN's hidden width, 2 * channels
    w = _Widener(seed)
    with torch.no_grad():
        wide.node_embedding.weight.copy_(w.tensor(trained.node_embedding.weight, out=(1, C)))
        wide.edge_species.load_state_dict(trained.edge_species.state_dict())
        w.radial(trained.edge_embedding, wide.edge_embedding, C)
        for old, new in zip(trained.blocks, wide.blocks):
            for name in ("norm_node", "norm_edge", "norm_message", "norm_ffn"):
                w.norm(getattr(old, name), getattr(new, name), C)
            w.radial(old.edge_radial, new.edge_radial, C3)
            w.radial(old.att_radial, new.att_radial, C3)
            w.so2(old.edge_in, new.edge_in, C3, H)
            w.gate(old.edge_gate, new.edge_gate, H)
            w.so2(old.edge_out, new.edge_out, H, C)
            w.so2(old.att_in, new.att_in, C3, H)
            w.gate(old.att_gate, new.att_gate, H)
            w.linear(old.att_logits, new.att_logits, H, None)
            w.so2(old.att_value, new.att_value, H, H)
            w.o3(old.att_out, new.att_out, H, C)
            w.o3(old.ffn.inner, new.ffn.inner, C, F)
            w.linear(old.ffn.gate, new.ffn.gate, F, F)
            w.o3(old.ffn.outer, new.ffn.outer, F, C)
        for old, new in zip([*trained.onsite_heads, *trained.edge_heads], [*wide.onsite_heads, *wide.edge_heads]):
            for p, q in zip(old.weight, new.weight):
                q.copy_(w.tensor(p, inp=(0, C)))
            for name in ("scale", "offset"):
                getattr(new, name).copy_(getattr(old, name))
    wide.config.avg_neighbors = trained.config.avg_neighbors


def grow(trained: nn.Module, grown: nn.Module, seed: int = 0) -> None:
    """Copy ``trained`` into ``grown`` (a finer radial part, wider, deeper, or any of these at once;
    the same predictions), in place. Each step goes through a model that changes only its fields."""
    from .elct import ELCT
    from .io import _default_dtype

    steps = ((("n_rbf", "radial_hidden"), refine_radial), (("channels", "hidden"), widen_channels))
    target = grown.config.to_dict()
    device, dtype = next(trained.parameters()).device, next(trained.parameters()).dtype
    for fields, step in steps:
        now = trained.config.to_dict()
        if all(now[f] == target[f] for f in fields):
            continue
        if now["n_blocks"] == target["n_blocks"] and all(
                now[f] == target[f] for other, _ in steps if other != fields for f in other):
            return step(trained, grown, seed)
        with _default_dtype(dtype):
            larger = ELCT(type(trained.config).from_dict({**now, **{f: target[f] for f in fields}}))
        step(trained, larger.to(device), seed)
        trained = larger
    grow_blocks(trained, grown)
