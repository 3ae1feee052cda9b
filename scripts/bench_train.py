"""Training-step throughput of seisbind's presets against this machine's matmul rate and PyTorch's own encoder.

python scripts/bench_train.py [--batch 32] [--steps 5] [--device cpu|cuda] [--bf16]

Measured in one run, so the ratios compare like with like on a noisy machine:
- the machine's dense matmul rate (2048^3 float32, or bf16 with --bf16), FLOP/s;
- a full training step (on-device STFT, spectrum + metadata encoders, heads, pairwise InfoNCE, backward, AdamW)
  for the `tiny` and `seisclip` presets: samples/s and achieved FLOP/s (counted by torch's FlopCounterMode) as a
  fraction of the matmul rate;
- the `seisclip` spectrum trunk against `torch.nn.TransformerEncoder` of identical size (same tokens, batch,
  width, depth, heads, pre-norm), forward + backward.
Last line: `train_flops_fraction=F vs_torch_encoder=R samples_per_s_seisclip=S` (F for the seisclip preset).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from seisbind.module import SeisBindModule

SPECTRUM = OmegaConf.load(Path(__file__).resolve().parents[1] / "configs" / "modality" / "spectrum.yaml").spectrum
"""The configured spectrum modality, the `tiny` preset as training runs it."""
METADATA = {"input": {"_target_": "seisbind.modalities.metadata.MetadataInput", "columns": {"x": 1.0}},
            "encoder": {"_target_": "seisbind.modalities.tabular.TabularMLP", "width": 512, "depth": 3}}
PRESETS = {
    "tiny": {key: OmegaConf.to_container(SPECTRUM[key]) for key in ("preprocess", "encoder")},
    "seisclip": {"preprocess": {"_target_": "seisbind.modalities.spectra.SeisCLIPSpectrum", "nperseg": 100},
                 "encoder": {"_target_": "seisbind.modalities.spectrum.SpectrumTransformer.from_preset",
                             "preset": "seisclip"}},
}


def timed(fn: Callable[[], object], steps: int, device: str) -> float:
    """Median seconds per call after one warm-up call."""
    fn()
    times = []
    for _ in range(steps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def matmul_flops(device: str, dtype: torch.dtype, steps: int) -> float:
    n = 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b, steps, device)


def build(preset: str, device: str) -> SeisBindModule:
    modality = {"spectrum": {"input": {"_target_": "seisbind.modalities.waveform.WaveformInput"}, **PRESETS[preset]},
                "metadata": METADATA}
    return SeisBindModule(modality, {"spectrum": [3, 12000], "metadata": [8]}, anchor="spectrum",
                          embed_dim=384 if preset == "seisclip" else 128).to(device)


def train_step_fn(model: SeisBindModule, batch_size: int, device: str, bf16: bool) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = {"spectrum": {"x": torch.randn(batch_size, 3, 12000, device=device),
                          "present": torch.ones(batch_size, dtype=torch.bool, device=device)},
             "metadata": {"x": torch.rand(batch_size, 8, device=device),
                          "mask": torch.ones(batch_size, 8, device=device),
                          "present": torch.ones(batch_size, dtype=torch.bool, device=device)}}

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            emb = model.embed(batch)
            loss, _ = model.objective(emb, {k: v["present"] for k, v in batch.items()},
                                      {k: model.heads[k].logit_scale() for k in emb})
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def counted_flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def trunk_comparison(model: SeisBindModule, batch_size: int, steps: int, device: str, bf16: bool) -> float:
    """Forward + backward seconds of torch's encoder / seconds of seisbind's trunk on the same token tensor."""
    encoder = model.encoders[model.hparams.anchor]
    trunk = encoder.transformer
    width = encoder.out_dim
    tokens = torch.randn(batch_size, encoder.n_extra + encoder.n_patches, width, device=device, requires_grad=True)
    heads = trunk.blocks[0].attn.heads if hasattr(trunk.blocks[0].attn, "heads") else 6
    layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True)
    reference = nn.TransformerEncoder(layer, num_layers=len(trunk.blocks), enable_nested_tensor=False).to(device)

    def run(module: nn.Module) -> Callable[[], None]:
        def fn() -> None:
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                out = module(tokens)
            out.float().sum().backward()
        return fn

    ours = timed(run(trunk), steps, device)
    theirs = timed(run(reference), steps, device)
    return theirs / ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="autocast to bfloat16 (GPU MFU measurement)")
    args = parser.parse_args()
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    peak = matmul_flops(args.device, dtype, args.steps)
    print(f"device={args.device} threads={torch.get_num_threads()} matmul_2048_tflops={peak / 1e12:.3f}")
    results = {}
    for preset in PRESETS:
        model = build(preset, args.device)
        step = train_step_fn(model, args.batch, args.device, args.bf16)
        flops = counted_flops(step)
        seconds = timed(step, args.steps, args.device)
        results[preset] = (args.batch / seconds, flops / seconds / peak)
        print(f"preset={preset} params_m={sum(p.numel() for p in model.parameters()) / 1e6:.2f} "
              f"step_gflop={flops / 1e9:.1f} step_s={seconds:.3f} samples_per_s={args.batch / seconds:.1f} "
              f"flops_fraction={flops / seconds / peak:.3f}")
    ratio = trunk_comparison(build("seisclip", args.device), args.batch, args.steps, args.device, args.bf16)
    print(f"train_flops_fraction={results['seisclip'][1]:.3f} vs_torch_encoder={ratio:.3f} "
          f"samples_per_s_seisclip={results['seisclip'][0]:.1f}")


if __name__ == "__main__":
    main()
