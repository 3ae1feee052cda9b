"""The training step on a CUDA device computes what it computes on the CPU (skipped where no GPU is present).

The on-device STFT, the spectrum transformer, the heads and the pairwise InfoNCE must give the same loss and
gradients on the GPU as on the CPU in float32 (TF32 off: it rounds matmul inputs to 10 mantissa bits), and a
bf16-autocast step (how `trainer=gpu` trains) must stay within bf16's rounding of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from seisbind.module import SeisBindModule

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

SPECTRUM = OmegaConf.load(Path(__file__).resolve().parents[1] / "configs" / "modality" / "spectrum.yaml").spectrum


def _module() -> SeisBindModule:
    torch.manual_seed(0)
    modality = {
        "spectrum": {"input": {"_target_": "seisbind.modalities.waveform.WaveformInput"},
                     **{key: OmegaConf.to_container(SPECTRUM[key]) for key in ("preprocess", "encoder")}},
        "metadata": {"input": {"_target_": "seisbind.modalities.metadata.MetadataInput", "columns": {"x": 1.0}},
                     "encoder": {"_target_": "seisbind.modalities.tabular.TabularMLP", "width": 128, "depth": 2}}}
    return SeisBindModule(modality, {"spectrum": [3, 12000], "metadata": [8]}, anchor="spectrum", embed_dim=64)


def _batch(device: str) -> dict:
    g = torch.Generator().manual_seed(1)
    n = 16
    return {"spectrum": {"x": torch.randn(n, 3, 12000, generator=g).to(device),
                         "present": torch.ones(n, dtype=torch.bool, device=device)},
            "metadata": {"x": torch.rand(n, 8, generator=g).to(device), "mask": torch.ones(n, 8, device=device),
                         "present": torch.ones(n, dtype=torch.bool, device=device)}}


def _loss_and_grads(model: SeisBindModule, device: str, bf16: bool) -> tuple[float, torch.Tensor]:
    model = model.to(device).eval()
    model.zero_grad(set_to_none=True)
    batch = _batch(device)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        emb = model.embed(batch)
        loss, _ = model.objective(emb, {k: v["present"] for k, v in batch.items()},
                                  {k: model.heads[k].logit_scale() for k in emb})
    loss.backward()
    grads = torch.cat([p.grad.flatten().float().cpu() for p in model.parameters() if p.grad is not None])
    return float(loss.detach()), grads


def test_a_training_step_on_the_gpu_matches_the_cpu_and_bf16_stays_within_its_rounding() -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = _module()
    cpu_loss, cpu_grads = _loss_and_grads(model, "cpu", bf16=False)
    gpu_loss, gpu_grads = _loss_and_grads(model, "cuda", bf16=False)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-4)
    assert torch.linalg.vector_norm(gpu_grads - cpu_grads) <= 1e-3 * torch.linalg.vector_norm(cpu_grads)
    bf16_loss, bf16_grads = _loss_and_grads(model, "cuda", bf16=True)
    assert bf16_loss == pytest.approx(cpu_loss, rel=0.05)
    cosine = torch.nn.functional.cosine_similarity(bf16_grads, cpu_grads, dim=0)
    assert cosine > 0.95, f"bf16 gradients point elsewhere (cosine {cosine:.3f})"
