"""A TS2Vec encoder trained here on the real windows: the feature network of Context-FID.

References
----------
* Z. Yue, Y. Wang, J. Duan et al., "TS2Vec: Towards Universal Representation of Time Series",
  AAAI 2022 (the encoder, the random cropping and the hierarchical contrastive loss).
* P. Jeha, M. Bohlke-Schneider, P. Mercado et al., "PSA-GAN: Progressive Self Attention GANs for
  Synthetic Time Series", ICLR 2022 (Context-FID: the Fréchet distance between TS2Vec embeddings of
  real and synthetic windows, the encoder trained on the real ones).
* X. Yuan, Y. Qiao, "Diffusion-TS: Interpretable Diffusion for General Time Series Generation",
  ICLR 2024 (Context-FID as the time-series papers report it: whole-window embeddings, max-pooled
  over time).

Method
------
Windows ``x`` ``(B, T, d)`` are encoded step by step::

    z = Linear(d → 64)(x)                                   # (B, T, 64); a missing value's step → 0
    z = z ⊙ m,  m_t ~ Bernoulli(½) while training           # timestamp masking
    r = DilatedConv(z)                                      # (B, T, 320): 10 residual blocks of two
                                                            # kernel-3 convolutions, dilation 2^i,
                                                            # GELU, then one to 320 channels
    e = max_t r_t                                           # (B, 320): the window's embedding

Training draws two overlapping random crops of each window (their overlap ``T_o`` steps long), encodes
both, and minimises the hierarchical contrastive loss on the overlap: at every scale (the overlap
max-pooled by 2 until one step is left), half the instance loss (the same step of the same window in
the other crop, against the other windows' at that step) plus half the temporal loss (the same step in
the other crop, against the window's other steps). Embeddings come from a running average of the
weights (stochastic weight averaging), as in the reference code.

Hyper-parameters (TS2Vec's defaults, declared once here)
--------------------------------------------------------
hidden 64, output 320, depth 10, batch 8, AdamW with learning rate 1e-3, 200 iterations when the
windows hold at most 100,000 values and 600 otherwise, dropout 0.1 on the representations.

Where this differs from the papers: the reference code crops long series to 3,000 steps and can
weight the two losses by a temporal unit; windows here are short (24 steps), so neither applies, and
one encoder (seeded) is trained per evaluation where Diffusion-TS averages five.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HIDDEN, OUTPUT, DEPTH, BATCH, LEARNING_RATE, DROPOUT = 64, 320, 10, 8, 1e-3, 0.1


def iterations_for(values: int) -> int:
    """TS2Vec's rule: 200 iterations for at most 100,000 training values, else 600."""
    return 200 if values <= 100_000 else 600


class _SamePadConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, dilation: int) -> None:
        super().__init__()
        field = 2 * dilation + 1  # kernel 3
        self.conv = nn.Conv1d(c_in, c_out, 3, padding=field // 2, dilation=dilation)
        self.remove = 1 if field % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out[:, :, : -self.remove] if self.remove else out


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, dilation: int, final: bool) -> None:
        super().__init__()
        self.conv1 = _SamePadConv(c_in, c_out, dilation)
        self.conv2 = _SamePadConv(c_out, c_out, dilation)
        self.projector = nn.Conv1d(c_in, c_out, 1) if c_in != c_out or final else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        residual = x if self.projector is None else self.projector(x)
        x = self.conv2(F.gelu(self.conv1(F.gelu(x))))
        return x + residual


class Encoder(nn.Module):
    """TS2Vec's encoder: ``(B, T, d)`` windows → ``(B, T, 320)`` per-step representations."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.input = nn.Linear(d, HIDDEN)
        channels = [HIDDEN] * DEPTH + [OUTPUT]
        self.blocks = nn.Sequential(
            *(
                _Block(channels[i - 1] if i else HIDDEN, channels[i], 2**i, final=i == len(channels) - 1)
                for i in range(len(channels))
            )
        )
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor, mask: bool = False) -> torch.Tensor:
        missing = torch.isnan(x).any(dim=-1)  # (B, T)
        z = self.input(torch.nan_to_num(x))  # (B, T, H)
        keep = ~missing
        if mask:
            keep = keep & (torch.rand(keep.shape) < 0.5)
        z = z * keep[..., None]
        return self.dropout(self.blocks(z.transpose(1, 2))).transpose(1, 2)  # (B, T, 320)


def _contrastive(z: torch.Tensor, pairs: int) -> torch.Tensor:
    """``z`` ``(G, 2P, C)``: item ``i`` and ``P + i`` are positives, every other item a negative."""
    sim = z @ z.transpose(1, 2)  # (G, 2P, 2P)
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1] + torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    i = torch.arange(pairs)
    return (logits[:, i, pairs + i - 1].mean() + logits[:, pairs + i, i].mean()) / 2


def hierarchical_loss(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """TS2Vec's hierarchical contrastive loss of two views ``(B, T, C)`` of the same steps."""
    loss, scales = torch.zeros(()), 0
    while z1.shape[1] > 1:
        if z1.shape[0] > 1:
            loss = loss + alpha * _contrastive(torch.cat([z1, z2], 0).transpose(0, 1), z1.shape[0])
        loss = loss + (1 - alpha) * _contrastive(torch.cat([z1, z2], 1), z1.shape[1])
        scales += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), 2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), 2).transpose(1, 2)
    if z1.shape[0] > 1:
        loss = loss + alpha * _contrastive(torch.cat([z1, z2], 0).transpose(0, 1), z1.shape[0])
        scales += 1
    return loss / max(scales, 1)


def _rows(x: torch.Tensor, start: np.ndarray, length: int) -> torch.Tensor:
    """``x[b, start_b : start_b + length]`` for every window ``b`` (NaN outside the window)."""
    idx = torch.as_tensor(start[:, None] + np.arange(length)[None, :])
    inside = (idx >= 0) & (idx < x.shape[1])
    out = x[torch.arange(len(x))[:, None], idx.clamp(0, x.shape[1] - 1)]
    return torch.where(inside[..., None], out, torch.full_like(out, float("nan")))


def train_encoder(windows: np.ndarray, *, seed: int = 0, iterations: int | None = None) -> nn.Module:
    """A TS2Vec encoder (its weight average) trained on real ``windows`` ``(W, T, d)`` float32.

    Raises
    ------
    ValueError
        Fewer than 2 windows, or windows shorter than 2 steps.
    """
    if len(windows) < 2 or windows.shape[1] < 2:
        raise ValueError("TS2Vec needs at least 2 windows of at least 2 steps")
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Encoder(windows.shape[2])
        average = torch.optim.swa_utils.AveragedModel(net)
        opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE)
        x_all = torch.as_tensor(windows, dtype=torch.float32)
        T = windows.shape[1]
        steps = iterations if iterations is not None else iterations_for(windows.size)
        for _ in range(int(steps)):
            x = x_all[torch.as_tensor(rng.integers(0, len(x_all), min(BATCH, len(x_all))))]
            crop = int(rng.integers(2, T + 1))
            left = int(rng.integers(0, T - crop + 1))
            right = left + crop
            e_left, e_right = int(rng.integers(0, left + 1)), int(rng.integers(right, T + 1))
            offset = rng.integers(-e_left, T - e_right + 1, size=len(x))
            out1 = net(_rows(x, offset + e_left, right - e_left), mask=True)[:, -crop:]
            out2 = net(_rows(x, offset + left, e_right - left), mask=True)[:, :crop]
            loss = hierarchical_loss(out1, out2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            average.update_parameters(net)
    return average.module.eval()


@torch.no_grad()
def embed(encoder: nn.Module, windows: np.ndarray) -> np.ndarray:
    """``(W, 320)`` float64: each window's representation, max-pooled over its steps."""
    encoder.eval()
    out = [
        encoder(torch.as_tensor(windows[i : i + 1024], dtype=torch.float32)).amax(dim=1).numpy()
        for i in range(0, len(windows), 1024)
    ]
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, OUTPUT))
