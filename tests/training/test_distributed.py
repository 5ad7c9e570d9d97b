"""Two CPU processes under torchrun (DDP, gloo) train the same model as one process does."""

import json
import subprocess
import sys

import torch

from conftest import free_port
from training_helpers import corpus_subset, tiny_config


def _toml(raw: dict) -> str:
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def test_two_process_ddp_matches_one_process(tmp_path):
    corpus = corpus_subset(tmp_path)
    configs = {}
    for name in ("single", "ddp"):
        raw = tiny_config(tmp_path, [str(corpus)], out=name, epochs=2, batch_size=2, random_roll=False)
        configs[name] = tmp_path / f"{name}.toml"
        configs[name].write_text(_toml(raw))
    # build the shared cache first, so both runs read the same file
    base = [sys.executable, "-m"]
    subprocess.run(base + ["ase_deeph2.cli", "train", "--no-progress", str(configs["single"])], check=True,
                   capture_output=True, timeout=300)
    ddp = subprocess.run(base + ["torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                                 "-m", "ase_deeph2.cli", "train", "--no-progress", str(configs["ddp"])],
                         capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    a = torch.load(tmp_path / "single" / "checkpoint_last.pt", weights_only=True)
    b = torch.load(tmp_path / "ddp" / "checkpoint_last.pt", weights_only=True)
    assert a["state"]["step"] == b["state"]["step"] == 4  # 4 training structures, global batch 2, 2 epochs
    worst = max(float((a["model"][k] - b["model"][k]).abs().max()) for k in a["model"] if a["model"][k].numel())
    assert worst < 1e-4, f"weights differ by {worst:.2e} after 4 identical global batches"
    mae = [json.loads((tmp_path / n / "metrics.json").read_text())["test_set"]["mae_meV"] for n in ("single", "ddp")]
    assert abs(mae[0] - mae[1]) < 1e-3 * mae[0]
