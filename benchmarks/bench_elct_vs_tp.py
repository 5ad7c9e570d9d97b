"""ELCT (SO(2) convolution in the bond frame) vs e3nn tensor products (DeepH-E3 style).

    python benchmarks/bench_elct_vs_tp.py [--channels 16] [--lmax 2 4 6 8] [--quick]

Part 1, one layer, forward + backward on the same real graph (the shared graphene 3x3 structure
tiled 2x2: 72 atoms, ~3200 edges), float32, same channels C and degree L:
  * ELCT: rotate x_j into the bond frame, SO(2) linear (all l mixed at equal |m|), rotate back;
  * e3nn: FullyConnectedTensorProduct(x_j [C x (0..L)], Y(r_ij) [0..L]) -> C x (0..L).
  The geometry each needs (Wigner matrices of the edge frames / spherical harmonics) is computed once
  per network pass and shared by all layers, so it is timed separately and also reported added in.
Part 2, a whole training step (forward, loss on all H blocks, backward) at L = 4: the ELCT model vs
the same network with its ELCT blocks replaced by NequIP/DeepH-E3-style blocks (per-edge weighted
"uvu" tensor products of node features and edge SH, gates), same width, heads and loss.
Goals: >= 30x at L = 6 for the layer, >= 3x for the training step. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import nn

from ase_deeph2.io import read_scfout
from ase_deeph2.model import ELCT, ELCTConfig, blocks_from_matrix, build_graph
from ase_deeph2.model.frames import EdgeFrames
from ase_deeph2.model.layers import RadialMLP, SO2Linear
from ase_deeph2.model.layout import FeatureLayout


def spherical_harmonics(lmax: int, vectors: torch.Tensor) -> torch.Tensor:
    """e3nn's real SH of physical vectors (fed as (y, z, x), DESIGN.md), component normalisation."""
    return o3.spherical_harmonics(list(range(lmax + 1)), vectors[:, [1, 2, 0]], normalize=True,
                                  normalization="component")

RUN = Path(__file__).resolve().parents[2] / "shared" / "data" / "openmx" / "runs" / "graphene_3x3_perturbed"
LOCAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "graphene_1x1"


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def load_structure(reps):
    path = RUN / "openmx.scfout" if (RUN / "openmx.scfout").exists() else LOCAL / "openmx.scfout"
    data = read_scfout(path)
    atoms = data.atoms.repeat(reps)
    return data, atoms


class ELCTLayer(nn.Module):
    def __init__(self, layout: FeatureLayout, channels: int):
        super().__init__()
        self.so2 = SO2Linear(layout, channels, channels)

    def forward(self, x, frames: EdgeFrames):
        return frames.to_global(self.so2(frames.to_local(x)))


def layer_benchmark(graph, lmax: int, channels: int, repeats: int, mmax: int | None = None) -> dict:
    """Forward + backward of one layer; geometry (frames / SH) timed separately, since a network
    computes it once and shares it between all its layers."""
    vectors = graph.pair_vectors[graph.edges]
    n_edges = len(vectors)
    x = torch.randn(n_edges, (lmax + 1) ** 2, channels, requires_grad=True)
    layout = FeatureLayout(lmax, lmax if mmax is None else mmax)
    elct = ELCTLayer(layout, channels)
    frames = EdgeFrames(vectors, layout, torch.float32)
    irreps = o3.Irreps([(channels, (l, (-1) ** l)) for l in range(lmax + 1)])
    tp = o3.FullyConnectedTensorProduct(irreps, o3.Irreps.spherical_harmonics(lmax), irreps)
    x_e3nn = torch.randn(n_edges, irreps.dim, requires_grad=True)  # e3nn's own (l, channel, m) layout
    sh = spherical_harmonics(lmax, vectors).float()
    t_elct = timed(lambda: elct(x, frames).square().sum().backward(), repeats)
    t_tp = timed(lambda: tp(x_e3nn, sh).square().sum().backward(), max(1, repeats // 2))
    t_frames = timed(lambda: EdgeFrames(vectors, layout, torch.float32), repeats)
    t_sh = timed(lambda: spherical_harmonics(lmax, vectors).float(), repeats)
    return {"lmax": lmax, "mmax": lmax if mmax is None else mmax, "channels": channels, "edges": n_edges, "elct_s": t_elct, "e3nn_tp_s": t_tp,
            "speedup": t_tp / t_elct, "frames_s": t_frames, "sh_s": t_sh,
            "speedup_with_geometry": (t_tp + t_sh) / (t_elct + t_frames), "tp_paths": len(tp.instructions)}


class TPBlock(nn.Module):
    """A NequIP/DeepH-E3-style block: weighted uvu tensor products of node features and edge SH."""

    def __init__(self, lmax: int, channels: int, n_inv: int, radial_hidden: int):
        super().__init__()
        self.lmax, self.channels = lmax, channels
        irreps = o3.Irreps([(channels, (l, 1)) for l in range(lmax + 1)])  # parity ignored, like ELCT
        sh = o3.Irreps([(1, (l, 1)) for l in range(lmax + 1)])
        instr, mid = [], []
        for i1, (_, ir1) in enumerate(irreps):
            for i2, (_, ir2) in enumerate(sh):
                for ir in ir1 * ir2:
                    if ir.l <= lmax and ir.p == 1:
                        instr.append((i1, i2, len(mid), "uvu", True))
                        mid.append((channels, ir))
        mid = o3.Irreps(mid)
        self.tp_node = o3.TensorProduct(irreps, sh, mid, instr, shared_weights=False, internal_weights=False)
        self.tp_edge = o3.TensorProduct(irreps, sh, mid, instr, shared_weights=False, internal_weights=False)
        self.radial_node = RadialMLP(n_inv, radial_hidden, self.tp_node.weight_numel)
        self.radial_edge = RadialMLP(n_inv, radial_hidden, self.tp_edge.weight_numel)
        gated = o3.Irreps([(channels, (l, 1)) for l in range(1, lmax + 1)])
        self.gate = Gate(o3.Irreps(f"{channels}x0e"), [nn.functional.silu], o3.Irreps(f"{lmax * channels}x0e"),
                         [torch.sigmoid], gated)
        self.lin_node = o3.Linear(mid, self.gate.irreps_in)
        self.lin_edge = o3.Linear(mid, irreps)
        self.irreps = irreps

    def forward(self, x, e, sh, inv, recv, send, avg):
        msg = self.tp_node(x[send], sh, self.radial_node(inv))
        agg = torch.zeros(x.shape[0], msg.shape[1], dtype=msg.dtype).index_add(0, recv, msg) / avg ** 0.5
        x = x + self.gate(self.lin_node(agg))
        e = e + self.lin_edge(self.tp_edge(x[recv] + x[send], sh, self.radial_edge(inv)))
        return x, e


def to_rows(f: torch.Tensor, lmax: int, channels: int) -> torch.Tensor:
    """e3nn [n, sum_l C(2l+1)] (l, channel, m) -> our [n, (L+1)^2, C]."""
    parts, start = [], 0
    for l in range(lmax + 1):
        d = 2 * l + 1
        parts.append(f[:, start:start + channels * d].reshape(len(f), channels, d).transpose(1, 2))
        start += channels * d
    return torch.cat(parts, dim=1)


class TPModel(ELCT):
    """The ELCT network with its blocks swapped for TP blocks (same embedding, heads, width)."""

    def __init__(self, config: ELCTConfig):
        super().__init__(config)
        self.blocks = nn.ModuleList(TPBlock(config.lmax, config.channels, self.n_invariants, config.radial_hidden)
                                    for _ in range(config.n_blocks))

    def forward(self, graph, edge_chunk=None, gamma=None):
        L, C = self.config.lmax, self.config.channels
        ctx, envelope = self._edges(graph, gamma)
        x, e = self._embed(graph, ctx)
        e = ctx.frames.to_global(e)  # the TP blocks work in the global frame
        sh = spherical_harmonics(L, graph.pair_vectors[graph.edges]).to(x.dtype)
        flat = lambda f: torch.cat([f[:, l * l:(l + 1) ** 2].transpose(1, 2).reshape(len(f), -1) for l in range(L + 1)], 1)
        x, e = flat(x), flat(e)
        for block in self.blocks:
            x, e = block(x, e, sh, ctx.invariants, ctx.receiver, ctx.sender, self.config.avg_neighbors)
        return self._assemble(graph, to_rows(x, L, C), to_rows(e, L, C), envelope, ctx)


def model_benchmark(data, atoms, channels: int, repeats: int) -> dict:
    cfg = ELCTConfig(basis=data.basis.to_strings(), lmax=4, channels=channels, hidden=channels, n_blocks=2)
    graph = build_graph(atoms, cfg)
    h = data.hamiltonian.tile((2, 2, 1)) if len(atoms) == 4 * len(data.atoms) else None
    target = blocks_from_matrix(h, graph).float() if h is not None else torch.zeros(graph.n_pairs, 13, 13)
    mask = graph.block_mask
    results = {}
    for name, cls in (("elct", ELCT), ("e3nn_tp", TPModel)):
        torch.manual_seed(0)
        model = cls(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            loss = ((model(graph) - target)[mask] ** 2).mean()
            loss.backward()
            opt.step()

        results[name] = timed(step, repeats)
        results[name + "_parameters"] = sum(p.numel() for p in model.parameters())
    results["speedup"] = results["e3nn_tp"] / results["elct"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--lmax", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mmax", type=int, default=None, help="eSCN truncation |m| <= mmax (default: none)")
    parser.add_argument("--layers-only", action="store_true", help="skip the whole-training-step comparison")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data, atoms = load_structure((2, 2, 1))
    cfg = ELCTConfig(basis=data.basis.to_strings(), lmax=4)
    graph = build_graph(atoms, cfg)
    print(f"graph: {len(atoms)} atoms, {len(graph.edges)} edges; {torch.get_num_threads()} threads; float32")
    layers = []
    for lmax in args.lmax:
        r = layer_benchmark(graph, lmax, args.channels, args.repeats, args.mmax)
        layers.append(r)
        print(f"one layer L={lmax} (|m| <= {r['mmax']}): ELCT {r['elct_s'] * 1e3:8.1f} ms   e3nn FCTP ({r['tp_paths']} paths) "
              f"{r['e3nn_tp_s'] * 1e3:9.1f} ms   speed-up {r['speedup']:6.1f}x   (with geometry: frames "
              f"{r['frames_s'] * 1e3:.1f} ms, SH {r['sh_s'] * 1e3:.1f} ms -> {r['speedup_with_geometry']:.1f}x)", flush=True)
    m = model_benchmark(data, atoms, 32, args.repeats) if not args.layers_only else {"speedup": None}
    if not args.layers_only:
        print(f"training step L=4, C=32, 2 blocks: ELCT {m['elct'] * 1e3:.0f} ms ({m['elct_parameters']} params)   "
              f"e3nn TP model {m['e3nn_tp'] * 1e3:.0f} ms ({m['e3nn_tp_parameters']} params)   speed-up {m['speedup']:.1f}x")
    goal_layer = next((r["speedup"] for r in layers if r["lmax"] == 6), None)
    print(json.dumps({"benchmark": "elct_vs_tp", "layers": layers, "model_step": m,
                      "goal_layer_L6": 30, "layer_speedup_L6": goal_layer, "goal_model_L4": 3,
                      "model_speedup_L4": m["speedup"]}))


if __name__ == "__main__":
    main()
