"""Mixed-type diffusion for tables: Gaussian diffusion on normal scores, masked diffusion on categories.

References
----------
* Kotelnikov, Baranchuk, Rubachev & Babenko (2023), "TabDDPM: Modelling Tabular Data with Diffusion
  Models", ICML — Gaussian diffusion on quantile-normalised numerical columns, a discrete diffusion on
  categorical ones, one MLP denoiser for both.
* Shi, Xu, Hua, Zhang, Ma, Li & Leskovec (2025), "TabDiff: a Mixed-type Diffusion Model for Tabular Data
  Generation", ICLR — continuous time shared by both parts, a variance-exploding σ schedule on the
  numerics and *masked* (absorbing-state) diffusion on the categories.
* Karras, Aittala, Aila & Laine (2022), "Elucidating the Design Space of Diffusion-Based Generative
  Models" (EDM), NeurIPS — preconditioning, loss weighting, the ρ-schedule and the Euler/Heun sampler.
* Sahoo et al. (2024), "Simple and Effective Masked Diffusion Language Models" (MDLM), NeurIPS — the
  masked forward process and its reverse step.

Method
------
*Data.* Numerical and datetime columns become normal scores through their empirical CDF (the
quantile normalisation of TabDDPM; ``x ∈ ℝ^{B×M}``, σ_data = 1). Categorical and boolean columns and
the missing indicators of numerical columns become category codes ``c ∈ {0..K_j−1}^{B×C}``; each has
one extra *mask* code ``K_j``.

*Forward process.* One time ``t ~ U(0, 1)`` per row drives both parts. Numerics:
``x_t = x + σ(t)·ε``, ``σ(t) = (σ_min^{1/ρ} + t(σ_max^{1/ρ} − σ_min^{1/ρ}))^ρ`` (σ_min 0.002,
σ_max 80, ρ 7). Categories: each code is replaced by its mask code with probability ``t`` (MDLM's
linear schedule ``α_t = 1 − t``).

*Denoiser.* An MLP of ``depth`` SiLU layers of ``width`` units. Input: ``c_in(σ)·x_t`` through a linear
layer, plus one learned embedding per (column, code) summed over the columns, plus an embedding of
``c_noise = ln(σ)/4`` (sinusoidal features → 2-layer MLP). Output: ``F`` for every numeric (EDM's
preconditioned ``D = c_skip·x_t + c_out·F``) and logits for every category.

*Loss.* EDM's weighted denoising loss, which with its preconditioning is ``‖F − (x − c_skip·x_t)/c_out‖²``
averaged over numerics, plus the cross-entropy of the true code at every masked position (averaged
over masked positions). Adam (``learning_rate``), the rate decaying linearly to 0 over the run, weights
averaged by an exponential moving average (``ema``, warmed up as ``min(ema, (1 + k)/(10 + k))`` at step
``k``) used for sampling.

*Sampling.* ``steps`` steps from ``t = 1`` to ``0`` on the uniform time grid: the numerics take Euler
steps of the probability-flow ODE ``dx/dσ = (x − D)/σ`` from ``σ_max`` to 0; every still-masked code is
revealed with probability ``(t_i − t_{i+1}) / t_i``, drawn from the denoiser's softmax, and then kept
(MDLM's reverse step). The last step reveals everything.

*Conditions.* Training reveals a random subset of the categorical columns of 20 % of the rows
whatever their ``t`` (each column with probability ½), so the denoiser also learns ``p(rest | revealed
columns)``. A categorical condition is a column revealed from the first step: exact, no rejection. A
numerical condition replaces its coordinate by the requested value noised to the current σ at every
step (the replacement method of Song et al. 2021) and is set exactly at the end.

Hyper-parameters are declared once in :class:`Diffusion`'s signature.

Where this differs from the papers: TabDiff learns a noise schedule per column (power-mean for the
numerics, log-linear for the categories) and samples with a stochastic second-order sampler; here the
schedules are fixed (EDM's ρ-schedule, MDLM's linear one) and the sampler is a deterministic Euler ODE
step for the numerics, so that a few steps suffice on a CPU. TabDDPM uses multinomial (not masked)
diffusion and a DDPM sampler of 1,000 steps. The masked cross-entropy is averaged, not weighted by
MDLM's ``1/t`` (a reweighting of the same objective, steadier in small batches). The 20 % of revealed
rows are our addition for exact conditional sampling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from simulacra.synthesizers.base import register
from simulacra.synthesizers.batches import BatchSource
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.neural import TorchSynthesizer
from simulacra.synthesizers.training import ema_update, steps_taken
from simulacra.transform import TableTransformer
from simulacra.validation import Choice, Integer, Probability, Real

SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0
TIME_FEATURES = 64  # sinusoidal features of c_noise
REVEAL_ROWS = 0.2  # share of training rows with a random subset of categorical columns revealed


def sigma_of(t: torch.Tensor) -> torch.Tensor:
    """EDM's ρ-schedule: ``t ∈ [0, 1]`` → σ from σ_min to σ_max (same shape as ``t``)."""
    lo, hi = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    return (lo + t * (hi - lo)) ** RHO


def _preconditioning(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """EDM's ``c_skip = 1/(σ² + 1)`` and ``c_out = σ/√(σ² + 1)`` for σ_data = 1 (same shape as σ)."""
    return 1 / (sigma**2 + 1), sigma * (sigma**2 + 1).rsqrt()


class Denoiser(nn.Module):
    """``(x_t (B, M), codes (B, C), σ (B,))`` → ``(F (B, M), logits (B, ΣK_j))``."""

    def __init__(self, n_num: int, cards: list[int], width: int, depth: int) -> None:
        super().__init__()
        self.n_num = n_num
        self.num_in = nn.Linear(max(n_num, 1), width)
        offsets = np.concatenate([[0], np.cumsum([k + 1 for k in cards])[:-1]]) if cards else np.zeros(0)
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.long), persistent=False)
        self.cat_in = nn.Embedding(max(int(sum(k + 1 for k in cards)), 1), width)
        freqs = torch.exp(-math.log(1e4) * torch.arange(TIME_FEATURES // 2) / (TIME_FEATURES // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        self.time = nn.Sequential(nn.Linear(TIME_FEATURES, width), nn.SiLU(), nn.Linear(width, width))
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.SiLU(), nn.Linear(width, width)]
        self.body = nn.Sequential(*layers, nn.SiLU())
        self.out = nn.Linear(width, n_num + int(sum(cards)))

    def forward(self, x: torch.Tensor, codes: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``sigma`` is ``(B,)``, or ``(1,)`` for one noise level shared by every row (sampling)."""
        c_in = (sigma**2 + 1).rsqrt()[:, None]  # (B or 1, 1)
        angles = (sigma.log() / 4)[:, None] * self.freqs * 100  # (B or 1, TIME_FEATURES/2)
        h = self.time(torch.cat([angles.sin(), angles.cos()], dim=1))  # (B or 1, width)
        if self.n_num:
            h = h + self.num_in(c_in * x)  # (B, width)
        if codes.shape[1]:
            # one embedding per (column, code), summed over the columns without a (B, C, width) copy
            h = h + nn.functional.embedding_bag(codes + self.offsets, self.cat_in.weight, mode="sum")
        return self.out(self.body(h))  # (B, M + ΣK_j)


@register
class Diffusion(TorchSynthesizer):
    """Mixed-type masked/Gaussian diffusion (see the module docstring for the method).

    Attributes
    ----------
    transformer_, layout_, denoiser_ (the EMA weights), history_ (per-epoch mean ``numerical`` and
    ``categorical`` loss), epochs_trained_.
    """

    name = "diffusion"
    supports_temperature = (
        True  # sample(temperature=τ): the initial noise scale of the numerical part: x_T ~ N(0, (τ·σ_max)²I)
    )
    # tune's default space: the denoiser's width and depth, the learning rate and the batch, as
    # TabDDPM's search (§4); ``epochs`` and the sampler's ``steps`` stay as given
    epochs = TorchSynthesizer.epochs.but(default=450)
    batch_size = TorchSynthesizer.batch_size.but(default=1024, space="256,1024,4096")
    width = Hyper(512, Integer(ge=1, le=65_536), "the denoiser MLP's hidden width", space="256,512,1024")
    depth = Hyper(3, Integer(ge=1, le=64), "the denoiser MLP's hidden layers", space="2:5")
    learning_rate = Hyper(
        2e-3, Real(gt=0, le=10), "Adam's initial rate (decays linearly to 0)", space="5e-4:5e-3:log"
    )
    ema = Hyper(0.999, Probability(), "decay of the moving average of the weights used for sampling")
    steps = Hyper(32, Integer(ge=1, le=10_000), "sampling steps")
    sampler = Hyper(
        "euler",
        Choice("euler", "heun"),
        '"euler" (one network evaluation per step) or "heun" (EDM\'s second-order step: two per step but '
        "the last)",
    )

    def _make_transformer(self) -> TableTransformer:
        """Normal scores for the numerics (TabDDPM's quantile normalisation), one-hot categories."""
        return TableTransformer(numerical="normal_score", categorical="onehot", seed=self.seed)

    # ------------------------------------------------------------------ networks
    def _cards(self) -> list[int]:
        return [s.end - s.start for s in self.layout_.discrete_spans]

    def _networks(self) -> None:
        n_num = int(self.layout_.continuous.numel())

        def build() -> Denoiser:
            return Denoiser(n_num, self._cards(), int(self.width), int(self.depth)).to(self.device_)

        self.net_ = build()
        self.denoiser_ = build()  # the EMA copy
        self.denoiser_.load_state_dict(self.net_.state_dict())
        self.denoiser_.requires_grad_(False)
        self.cards_ = torch.tensor(self._cards(), dtype=torch.long, device=self.device_)
        self.__dict__.pop("_index_cache", None)  # a refit may have other columns

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded matrix ``(B, D)`` → numerics ``(B, M)`` and codes ``(B, C)``."""
        codes = (
            self.layout_.targets(x)
            if self.layout_.discrete_spans
            else x.new_zeros((x.shape[0], 0), dtype=torch.long)
        )
        return x[:, self.layout_.continuous], codes

    def _build(self, x: BatchSource) -> None:
        self._networks()
        self.data_ = x  # batches are split into normal scores and codes as they are read
        self.opt_ = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate, fused=True)
        self.total_steps_ = max(1, int(self.epochs) * math.ceil(len(x) / int(self.batch_size)))

    def _modules(self) -> dict[str, nn.Module]:
        """Both networks while training (checkpoints); only the EMA denoiser once fitted (saved)."""
        if hasattr(self, "net_"):
            return {"net": self.net_, "denoiser": self.denoiser_}
        return {"denoiser": self.denoiser_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt_}

    # ------------------------------------------------------------------ training
    def _logits(self, out: torch.Tensor) -> torch.Tensor:
        """Network output ``(B, M + ΣK)`` → padded categorical logits ``(B, C, W)`` (pads at −1e9)."""
        index, valid = self._cat_index()
        return out[:, int(self.layout_.continuous.numel()) :][:, index].masked_fill(~valid, -1e9)

    def _cat_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(C, W)`` positions of each column's logits in the output's categorical part, and which of
        them are real (the rest pad the shorter columns); built once per fit or load."""
        if not hasattr(self, "_index_cache"):
            cards = self._cards()
            w = max(cards, default=1)
            index = torch.zeros((len(cards), w), dtype=torch.long)
            valid = torch.zeros((len(cards), w), dtype=torch.bool)
            start = 0
            for j, k in enumerate(cards):
                index[j, :k] = torch.arange(start, start + k)
                valid[j, :k] = True
                start += k
            self._index_cache = (index.to(self.device_), valid.to(self.device_))
        return self._index_cache

    def _loss(self, num: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The numerical (EDM) and categorical (masked cross-entropy) losses of a batch of normal
        scores ``num`` ``(B, M)`` and codes ``(B, C)``, each a scalar."""
        b = num.shape[0]
        t = torch.rand(b, device=num.device)
        sigma = sigma_of(t)
        x_t = num + sigma[:, None] * torch.randn_like(num)
        masked = torch.rand(codes.shape, device=num.device) < t[:, None]  # (B, C)
        reveal = (torch.rand(b, 1, device=num.device) < REVEAL_ROWS) & (
            torch.rand(codes.shape, device=num.device) < 0.5
        )
        masked &= ~reveal
        noisy = torch.where(masked, self.cards_.expand_as(codes), codes)
        out = self.net_(x_t, noisy, sigma)
        m = num.shape[1]
        if m:
            c_skip, c_out = _preconditioning(sigma[:, None])
            target = (num - c_skip * x_t) / c_out
            num_loss = ((out[:, :m] - target) ** 2).mean()
        else:
            num_loss = out.new_zeros(())
        if codes.shape[1] and masked.any():
            logp = self._logits(out).log_softmax(dim=2)  # (B, C, W)
            nll = -logp.gather(2, codes[:, :, None])[:, :, 0]  # (B, C)
            cat_loss = (nll * masked).sum() / masked.sum()
        else:
            cat_loss = out.new_zeros(())
        return num_loss, cat_loss

    def _train_epoch(self) -> dict[str, float]:
        n, b = len(self.data_), int(self.batch_size)
        self.net_.train()
        perm = torch.randperm(n, device=self.device_)
        totals = torch.zeros(2, device=self.device_)
        steps = 0
        ema = float(self.ema)
        for start in range(0, n, b):
            idx = perm[start : start + b]
            num_loss, cat_loss = self._loss(*self._split(self.data_.rows(idx)))
            done = self._steps_done()
            for group in self.opt_.param_groups:
                group["lr"] = self.learning_rate * max(0.0, 1.0 - done / self.total_steps_)
            self.opt_.zero_grad(set_to_none=True)
            (num_loss + cat_loss).backward()
            self.opt_.step()
            ema_update(self.denoiser_, self.net_, ema, done)
            totals += torch.stack([num_loss.detach(), cat_loss.detach()])
            steps += 1
        mean = (totals / max(steps, 1)).tolist()
        return {"numerical": mean[0], "categorical": mean[1]}

    def _steps_done(self) -> int:
        """Optimizer steps taken so far (restored with a checkpoint, so the schedule resumes)."""
        return steps_taken(self.opt_)

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses["numerical"] + losses["categorical"]

    def _after_fit(self, x: BatchSource) -> None:
        del self.data_, self.net_, self.opt_

    # ------------------------------------------------------------------ sampling
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        categorical, numerical = self._parse_conditions(conditions)
        fixed = {span: code for span, code, _, _ in categorical}  # discrete span → category
        continuous = [s.column for s in self.transformer_.spans_ if s.kind == "continuous"]
        num_fixed = {}  # numeric position → its normal score
        for col, value in numerical.items():
            x = self.transformer_.condition_value(col, value)
            enc = self.transformer_.columns_[col]["value"]
            num_fixed[continuous.index(col)] = float(enc.transform(np.array([x]))[0, 0])
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        parts = []
        with self._seeded(seed), torch.inference_mode():
            self.denoiser_.eval()
            for start in range(0, n, 65_536):
                parts.append(self._generate_rows(min(65_536, n - start), fixed, num_fixed))
        matrix = torch.cat(parts).cpu().numpy() if parts else np.zeros((0, self.layout_.dim), np.float32)
        out = self.transformer_.inverse_transform(matrix)
        for col, value in numerical.items():
            out[col] = pd.Series([value] * len(out), dtype=object).astype(out[col].dtype, errors="ignore")
        return out

    def _slope(
        self, x: torch.Tensor, codes: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network output ``(n, M + ΣK)`` and the probability-flow slope ``(x − D)/σ`` ``(n, M)``."""
        out = self.denoiser_(x, codes, sigma.reshape(1))
        c_skip, c_out = _preconditioning(sigma)
        return out, (x - (c_skip * x + c_out * out[:, : x.shape[1]])) / sigma

    def _generate(self, n: int, cond: tuple[int, int] | None) -> torch.Tensor:
        """``n`` encoded rows, optionally with discrete span ``cond[0]`` fixed to category ``cond[1]``."""
        return self._generate_rows(n, {cond[0]: cond[1]} if cond else {}, {})

    def _generate_rows(self, n: int, fixed: dict[int, int], num_fixed: dict[int, float]) -> torch.Tensor:
        """``n`` encoded rows ``(n, D)`` by ``steps`` reverse steps (see the module docstring)."""
        dev = self.device_
        m, c = int(self.layout_.continuous.numel()), len(self.layout_.discrete_spans)
        steps = int(self.steps)
        t_grid = torch.linspace(1.0, 0.0, steps + 1, device=dev)
        sigmas = sigma_of(t_grid)
        sigmas[-1] = 0.0
        x = torch.randn(n, m, device=dev) * (sigmas[0] * self._temperature)  # the initial noise scale
        codes = self.cards_.expand(n, c).clone()
        for j, code in fixed.items():
            codes[:, j] = code
        known = torch.zeros(c, dtype=torch.bool, device=dev)
        known[list(fixed)] = True
        for i in range(steps):
            s_now, s_next = sigmas[i], sigmas[i + 1]
            for j, value in num_fixed.items():
                x[:, j] = value + s_now * torch.randn(n, device=dev)
            out, slope = self._slope(x, codes, s_now)
            if c:
                still = codes == self.cards_  # (n, C) masked positions
                p_reveal = (t_grid[i] - t_grid[i + 1]) / t_grid[i]
                reveal = still & (torch.rand(n, c, device=dev) < p_reveal)
                if reveal.any():
                    probs = self._logits(out).softmax(dim=2)  # (n, C, W)
                    u = torch.rand(n, c, 1, device=dev)
                    drawn = (probs.cumsum(2) < u).sum(2).clamp_max(self.cards_ - 1)
                    codes = torch.where(reveal & ~known, drawn, codes)
            if m:
                step = x + (s_next - s_now) * slope  # Euler
                if self.sampler == "heun" and s_next > 0:  # EDM's 2nd-order correction
                    _, slope_next = self._slope(step, codes, s_next)
                    step = x + (s_next - s_now) * 0.5 * (slope + slope_next)
                x = step
        for j, value in num_fixed.items():
            x[:, j] = value
        rows = torch.zeros(n, self.layout_.dim, device=dev)
        if m:
            rows[:, self.layout_.continuous] = x
        if c:
            rows.scatter_(1, self.layout_.gather[torch.arange(c, device=dev), codes], 1.0)
        return rows

    # ------------------------------------------------------------------ persistence
    def _restore(self, arrays: dict[str, Any]) -> None:
        self._networks()
        del self.net_
