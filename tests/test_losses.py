import math

import pytest
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from seisbind.losses import ContrastiveObjective, Pair, pairwise_infonce
from seisbind.modalities.head import ModalityHead
from seisbind.modalities.tabular import TabularMLP


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def naive_infonce(a, b, present, scale):
    """Reference: build the similarity matrix of the present samples only, then loop over rows and columns."""
    keep = [i for i in range(len(present)) if present[i]]
    if not keep:
        return torch.zeros((), dtype=a.dtype)
    sims = scale * a[keep] @ b[keep].T
    total = 0.0
    for i in range(len(keep)):
        total = total - (sims[i, i] - torch.logsumexp(sims[i, :], dim=0))  # a_i -> which b?
        total = total - (sims[i, i] - torch.logsumexp(sims[:, i], dim=0))  # b_i -> which a?
    return total / (2 * len(keep))


def unit(n, d, dtype=torch.float64):
    return F.normalize(torch.randn(n, d, dtype=dtype), dim=-1)


def leaf_inputs(n=10, d=6):
    a, b = unit(n, d).requires_grad_(), unit(n, d).requires_grad_()
    scale = torch.tensor(1 / 0.07, dtype=torch.float64, requires_grad=True)
    return a, b, scale


@pytest.mark.parametrize(
    "present",
    [
        [True] * 10,
        [True, False, True, True, False, True, True, True, False, True],
        [False] * 9 + [True],
    ],
)
def test_matches_naive_reference_forward_and_backward(present):
    present = torch.tensor(present)
    a, b, scale = leaf_inputs()
    loss = pairwise_infonce(a, b, present, scale)
    grads = torch.autograd.grad(loss, (a, b, scale))
    reference = naive_infonce(a, b, present, scale)
    reference_grads = torch.autograd.grad(reference, (a, b, scale))
    torch.testing.assert_close(loss, reference, atol=1e-6, rtol=1e-6)
    for got, expected in zip(grads, reference_grads):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    # absent samples are out of the matrix: they receive no gradient at all
    assert grads[0][~present].abs().sum() == 0 and grads[1][~present].abs().sum() == 0


def test_absent_sample_changes_nothing_and_empty_batch_is_zero():
    a, b, scale = leaf_inputs()
    present = torch.ones(10, dtype=torch.bool)
    present[3] = False
    moved = a.detach().clone()
    moved[3] = -moved[3]
    torch.testing.assert_close(pairwise_infonce(a, b, present, scale), pairwise_infonce(moved, b, present, scale))
    empty = pairwise_infonce(a, b, torch.zeros(10, dtype=torch.bool), scale)
    assert empty.item() == 0.0
    empty.backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().max() == 0


def test_low_precision_inputs_are_scored_in_float32():
    a, b = unit(8, 4, torch.bfloat16), unit(8, 4, torch.bfloat16)
    loss = pairwise_infonce(a, b, torch.ones(8, dtype=torch.bool), 10.0)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, naive_infonce(a.float(), b.float(), [True] * 8, 10.0))


def test_under_bf16_autocast_the_loss_is_the_float32_loss():
    """precision=bf16-mixed runs the training step under autocast, which would put the similarity matmul in bf16."""
    a, b = unit(8, 4, torch.float32), unit(8, 4, torch.float32)
    present = torch.tensor([True] * 7 + [False])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = pairwise_infonce(a, b, present, 10.0)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, naive_infonce(a, b, present.tolist(), 10.0))


def test_single_process_gather_like_lightning_equals_no_gather():
    a, b, scale = leaf_inputs()
    present = torch.rand(10) > 0.3
    plain = pairwise_infonce(a, b, present, scale)
    # Lightning's all_gather returns its input unchanged when no process group is initialised
    torch.testing.assert_close(pairwise_infonce(a, b, present, scale, gather=lambda t: t), plain)
    torch.testing.assert_close(pairwise_infonce(a, b, present, scale, gather=lambda t: t[None]), plain)
    with pytest.raises(ValueError, match="same batch size"):
        pairwise_infonce(a, b, present, scale, gather=lambda t: torch.stack([t[:9], t[:9]]))


def test_objective_weights_names_presence_and_scales():
    objective = ContrastiveObjective(
        [["spectrum", "metadata", 1.0], {"anchor": "spectrum", "modality": "animal", "weight": 0.5}]
    )
    embeddings = {name: unit(6, 4) for name in ("spectrum", "metadata", "animal")}
    present = {
        "spectrum": torch.tensor([True, True, True, True, False, True]),
        "metadata": torch.ones(6, dtype=torch.bool),
        "animal": torch.tensor([True, False, True, False, True, True]),
    }
    scales = {"spectrum": 1.0, "metadata": 20.0, "animal": 5.0}
    total, losses = objective(embeddings, present, scales)
    assert list(losses) == ["spectrum-metadata", "spectrum-animal"]
    expected_metadata = naive_infonce(embeddings["spectrum"], embeddings["metadata"], present["spectrum"], 20.0)
    both = present["spectrum"] & present["animal"]
    expected_animal = naive_infonce(embeddings["spectrum"], embeddings["animal"], both, 5.0)
    torch.testing.assert_close(losses["spectrum-metadata"], expected_metadata)
    torch.testing.assert_close(losses["spectrum-animal"], expected_animal)
    torch.testing.assert_close(total, expected_metadata + 0.5 * expected_animal)
    assert objective.modalities == {"spectrum", "metadata", "animal"}
    assert objective.pairs[1] == Pair("spectrum", "animal", 0.5)


def test_objective_rejects_bad_pairs():
    with pytest.raises(ValueError, match="'spectrum-gps' names modality 'gps'"):
        ContrastiveObjective([("spectrum", "gps", 1.0)]).check_modalities(["spectrum", "metadata"])
    with pytest.raises(ValueError, match="with itself"):
        ContrastiveObjective([("spectrum", "spectrum", 1.0)])
    with pytest.raises(ValueError, match="configured twice"):
        ContrastiveObjective([("spectrum", "metadata"), ("spectrum", "metadata", 2.0)])
    with pytest.raises(ValueError, match="weight"):
        ContrastiveObjective([("spectrum", "metadata", -1.0)])
    with pytest.raises(ValueError, match="no pairs"):
        ContrastiveObjective([])


# ---- data parallel: 2 CPU processes (gloo) against 1 process on the concatenated batch ----

MODALITIES = {"spectrum": 6, "metadata": 4, "animal": 5}  # name -> input features
PAIRS = [("spectrum", "metadata", 1.0), ("spectrum", "animal", 0.5)]
LOCAL_BATCH = 6


class TinyBind(nn.Module):
    """Encoders + heads of three modalities; forward returns embeddings and logit scales (as the LightningModule)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.encoders = nn.ModuleDict({n: TabularMLP((f,), width=16, depth=1, out_dim=12)
                                       for n, f in MODALITIES.items()})
        # the anchor's own scale is never used (a pair takes the other modality's): fixed, or DDP would find an
        # unused parameter
        self.heads = nn.ModuleDict(
            {n: ModalityHead(12, 8, logit_scale_learnable=n != "spectrum") for n in MODALITIES}
        )

    def forward(self, batch):
        embeddings = {n: self.heads[n](self.encoders[n](batch[n]["x"])) for n in MODALITIES}
        return embeddings, {n: self.heads[n].logit_scale() for n in MODALITIES}


def global_batch():
    generator = torch.Generator().manual_seed(2)
    n = 2 * LOCAL_BATCH
    batch = {
        name: {"x": torch.randn(n, f, generator=generator), "present": torch.ones(n, dtype=torch.bool)}
        for name, f in MODALITIES.items()
    }
    batch["spectrum"]["present"][[1, 8]] = False
    batch["metadata"]["present"][[4, 9]] = False
    batch["animal"]["present"][LOCAL_BATCH:] = False  # rank 1 holds no animal at all
    batch["animal"]["present"][[0, 2]] = False
    return batch


def compute(model, batch, gather=None, rank=0):
    embeddings, scales = model(batch)
    present = {n: batch[n]["present"] for n in MODALITIES}
    return ContrastiveObjective(PAIRS)(embeddings, present, scales, gather=gather, rank=rank)


def ddp_worker(rank, world, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = DistributedDataParallel(TinyBind())
    local = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
    batch = {n: {k: v[local] for k, v in m.items()} for n, m in global_batch().items()}
    def gather(tensor):  # what Lightning's all_gather(sync_grads=True) does
        return torch.stack(dist_fn.all_gather(tensor))

    total, losses = compute(model, batch, gather, rank)
    total.backward()  # DDP averages the parameter gradients over the ranks here
    grads = {name: p.grad.clone() for name, p in model.module.named_parameters()}
    result = {"total": total.detach(), "losses": {k: v.detach() for k, v in losses.items()}, "grads": grads}
    torch.save(result, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


def test_two_process_ddp_matches_single_process(tmp_path):
    model = TinyBind()
    total, losses = compute(model, global_batch())
    total.backward()
    expected_grads = {name: p.grad for name, p in model.named_parameters()}
    mp.spawn(ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(result["total"], total.detach(), atol=1e-5, rtol=1e-5)
        for name, loss in losses.items():
            torch.testing.assert_close(result["losses"][name], loss.detach(), atol=1e-5, rtol=1e-5)
        assert result["grads"].keys() == expected_grads.keys()
        for name, grad in expected_grads.items():
            torch.testing.assert_close(result["grads"][name], grad, atol=1e-5, rtol=1e-5, msg=name)
    # the test has teeth: the logit scales and every encoder really receive gradient
    assert all(expected_grads[f"heads.{n}.log_logit_scale"].abs() > 1e-4 for n in ("metadata", "animal"))
    assert math.isfinite(total.item())
