"""DP-SGD for the neural table models: per-example clipping and Gaussian noise through Opacus.

Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang (2016), "Deep Learning with Differential
Privacy", CCS; Opacus (Yousefpour et al. 2021, "Opacus: User-Friendly Differential Privacy Library in
PyTorch") computes the per-example gradients (``GradSampleModule``) and clips and noises their sum
(``DPOptimizer``). What the :class:`DPSGD` strategy changes in a :class:`~simulacra.synthesizers.neural.TorchSynthesizer`'s fit
(:class:`DPTraining` declares its hyper-parameters and hands the strategy to the trainer):

* the table's encoding comes from a public :class:`~simulacra.transform.domain.Domain` (declared or
  DP-estimated ranges and category sets, :func:`~simulacra.transform.domain.estimate_domain`), never
  from the data: numbers scaled over the range, categories one-hot
  (:meth:`~simulacra.transform.TableTransformer.from_domain`);
* every step trains on a Poisson sample of the rows (each row with probability ``q = batch_size/N``),
  the sampling the accountant assumes; an epoch is ``N / batch_size`` steps, and a step whose sample
  is empty still takes its noise-only update (skipping it would tell that the batch was empty);
* the Poisson masks and the gradient noise come from a generator seeded with fresh OS entropy
  (:mod:`simulacra.transform.secret`), never from the public ``seed``, and the noise is Opacus'
  ``secure_mode`` sum of Gaussians; the ``seed`` still drives the weights' initialisation and the
  model's own sampling noise (public, data-independent randomness the analysis allows);
* nothing computed on the private batches leaves the fit except through the noisy updates: no loss is
  shown, returned to ``on_epoch`` callbacks or stored in ``history`` (each epoch records ``{}``);
* a resumed fit keeps the domain saved in its checkpoint (paid for once), counts the steps taken
  before the interruption, and may not change ``epochs`` (the noise multiplier was planned for them);
* the noise multiplier is the smallest whose Rényi-DP account of all the planned steps, composed with
  the domain estimate's zCDP, stays within ``(epsilon, delta)``
  (:func:`~simulacra.synthesizers.dp.accounting.sgd_noise`), and the spent ε of the steps taken is
  stored with the model (``privacy_``).

Early stopping would choose the number of steps from the private loss, so ``patience`` is refused with
``dp=True``. The row count ``N`` sets the sampling rate and is treated as public, as in Abadi et al. and
Opacus.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from simulacra.errors import ConfigError
from simulacra.metadata import NOT_LEARNED
from simulacra.synthesizers.dp.accounting import epsilon_of_rho, private_domain, sgd_epsilon, sgd_noise
from simulacra.synthesizers.hyper import Hyper
from simulacra.transform import TableTransformer
from simulacra.transform.domain import Domain
from simulacra.transform.secret import secret_seed
from simulacra.validation import Boolean, Real

if TYPE_CHECKING:
    from simulacra.synthesizers.neural import TorchSynthesizer

#: share of the budget spent on estimating undeclared column domains (as AIM's default)
DOMAIN_SHARE = 0.1


class DPTraining:
    """The DP-SGD hyper-parameters of a :class:`~simulacra.synthesizers.neural.TorchSynthesizer`, and
    the :class:`DPSGD` strategy its :class:`~simulacra.synthesizers.training.Trainer` is given when
    ``dp`` is set (see the module docstring). The model's losses are means over the batch's rows, and
    its epoch draws batches from the strategy (:meth:`DPSGD.batches`).
    """

    dp = Hyper(False, Boolean(), "train with DP-SGD (Abadi et al. 2016); the whole fit is (ε, δ)-DP")
    epsilon = Hyper(1.0, Real(gt=0, le=1000), "the whole fit's ε with dp, the domain estimate included")
    delta = Hyper(1e-5, Real(gt=0, lt=1), "the whole fit's δ with dp")
    max_grad_norm = Hyper(1.0, Real(gt=0, le=1e6), "the per-row gradient clipping norm with dp")
    patience: Any
    name: str

    @property
    def differentially_private(self) -> bool:
        return bool(self.dp)

    @property
    def _training_only(self) -> tuple[str, ...]:
        """A DP fit resumes only with the same ``epochs``: its noise multiplier was planned for them."""
        return ("verbose",) if self.dp else ("epochs", "verbose")

    def _check_dp(self) -> None:
        if self.dp and self.patience is not None:
            raise ConfigError(
                f"{self.name}: patience (early stopping) reads the private loss; drop it with dp=true"
            )

    def _strategy(self) -> DPSGD | None:
        return DPSGD(float(self.epsilon), float(self.delta), float(self.max_grad_norm)) if self.dp else None


class DPSGD:
    """DP-SGD as a training strategy (Lightning's word): what a :class:`~simulacra.synthesizers.training.Trainer`
    does differently for a private fit. See the module docstring for the method.

    :meth:`transformer` encodes the table from its public domain before the networks are built; the
    trainer calls :meth:`attach` before the first epoch (per-example gradients, a ``DPOptimizer`` around
    each optimizer, the noise multiplier for every planned step), :meth:`resumed` after a checkpoint is
    restored, :meth:`checkpoint_extra` with each checkpoint and :meth:`detach` after the last epoch
    (the spent budget, ``model.privacy_``); the model's epoch draws :meth:`batches` and takes
    :meth:`noise_only_step` for an empty one.

    Parameters
    ----------
    epsilon, delta : float
        The whole fit's budget, domain estimate included.
    max_grad_norm : float
        The per-row clipping norm.
    """

    def __init__(self, epsilon: float, delta: float, max_grad_norm: float) -> None:
        self.epsilon, self.delta, self.max_grad_norm = epsilon, delta, max_grad_norm
        self.steps_done = 0

    def transformer(
        self, model: TorchSynthesizer, data: pd.DataFrame, saved: dict[str, Any]
    ) -> TableTransformer:
        """The encoding from the public domain (``domain``, and the δ left for training); a resumed
        fit's ``saved`` checkpoint extra keeps the domain it paid for, once."""
        meta = model.metadata_
        columns = [c for c in meta.names if meta[c].sdtype not in NOT_LEARNED]
        if "domain" in saved:
            self.domain, self.delta_sgd = Domain.from_state(saved["domain"]), float(saved["delta_sgd"])
        else:
            self.domain, self.delta_sgd, _ = private_domain(
                data, meta, columns, epsilon=self.epsilon, delta=self.delta, share=DOMAIN_SHARE
            )
        return TableTransformer.from_domain(self.domain, meta, meta.names, seed=model.seed)

    def attach(self, model: TorchSynthesizer, n_rows: int) -> None:
        """Per-example gradients on every trained module and a ``DPOptimizer`` around each optimizer,
        with the noise multiplier the budget allows for all planned steps.

        Raises
        ------
        ConfigError
            ε is spent on estimating the column domains.
        """
        from opacus import GradSampleModule
        from opacus.grad_sample import register_grad_sampler
        from opacus.optimizers import DPOptimizer

        for cls, sampler in model._grad_samplers().items():
            register_grad_sampler(cls)(sampler)

        b = int(model.batch_size)
        self.q = min(1.0, b / max(n_rows, 1))
        self.steps_per_epoch = max(1, round(n_rows / b))
        planned = self.steps_per_epoch * int(model.epochs)
        try:
            self.noise = sgd_noise(self.epsilon, self.delta_sgd, self.q, max(planned, 1), self.domain.rho)
        except ValueError:
            raise ConfigError(
                f"{model.name}: epsilon={self.epsilon} is spent on estimating the column domains; "
                "declare their min/max and categories in the metadata, or raise epsilon"
            ) from None
        # the Poisson masks and the gradient noise: fresh OS entropy, never the public seed
        self.secret = torch.Generator(device=model.device_)
        self.secret.manual_seed(secret_seed())
        self.device = model.device_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Opacus warns that secure_mode's own CSPRNG is not installed
            self.grad_modules = [GradSampleModule(m) for m in model._modules().values()]
            for name, opt in list(model._optimizers().items()):
                dp_opt = DPOptimizer(
                    opt,
                    noise_multiplier=self.noise,
                    max_grad_norm=self.max_grad_norm,
                    expected_batch_size=b,
                    loss_reduction="mean",
                    generator=self.secret,
                    secure_mode=True,
                )
                model._replace_optimizer(name, dp_opt)
        self.steps_done = 0

    def checkpoint_extra(self) -> dict[str, Any]:
        """What a resumed fit needs before training: the domain paid for and the δ left."""
        return {"domain": self.domain.to_state(), "delta_sgd": self.delta_sgd}

    def resumed(self, epochs_done: int) -> None:
        """A resumed fit: the steps of the epochs trained before the interruption count too."""
        self.steps_done = epochs_done * self.steps_per_epoch

    def batches(self, n_rows: int) -> list[torch.Tensor]:
        """One epoch's batches of row indices: ``N / batch_size`` Poisson samples drawn from the secret
        generator, counted; a batch may be empty (take :meth:`noise_only_step` for it)."""
        out = []
        for _ in range(self.steps_per_epoch):
            u = torch.rand(n_rows, device=self.device, generator=self.secret)
            out.append(torch.nonzero(u < self.q).flatten())
        self.steps_done += len(out)
        return out

    def noise_only_step(self, optimizer: Any) -> None:
        """The update of a step whose Poisson sample is empty: no gradient, only the noise (as Opacus'
        data loader does with an empty batch), so that an empty batch is not told by a missing step."""
        optimizer.zero_grad(set_to_none=True)
        for module in self.grad_modules:
            for p in module.parameters():
                if p.requires_grad:
                    p.grad_sample = torch.zeros((0, *p.shape), device=p.device, dtype=p.dtype)
        optimizer.step()

    def detach(self, model: TorchSynthesizer) -> None:
        """Remove the per-example hooks and record what was spent (``model.privacy_``)."""
        for gsm in self.grad_modules:
            gsm._close()
        del self.grad_modules, self.secret
        sgd_eps = sgd_epsilon(self.q, self.noise, max(self.steps_done, 1), self.delta_sgd, self.domain.rho)
        privacy = {
            "mechanism": "DP-SGD (Abadi et al. 2016; Opacus), Rényi-DP accountant",
            "epsilon_requested": self.epsilon,
            "delta_requested": self.delta,
            # no step (epochs=0): only the domain estimate was spent
            "epsilon": sgd_eps if self.steps_done else epsilon_of_rho(self.domain.rho, self.delta_sgd),
            "delta": self.delta_sgd + self.domain.delta,
            "noise_multiplier": self.noise,
            "max_grad_norm": self.max_grad_norm,
            "sampling_rate": self.q,
            "steps": self.steps_done,
            "rho_domain": self.domain.rho,
            "delta_domain": self.domain.delta,
            "declared_domain": sorted(set(self.domain.columns) - set(self.domain.estimated)),
            "estimated_domain": self.domain.estimated,
            "other_bucket": self.domain.with_other_bucket,
            "not_covered": model.metadata_.names_of("pii"),
            "noise": "OS entropy (secrets), never stored; Opacus secure_mode",
        }
        if math.isnan(privacy["epsilon"]):
            privacy["epsilon"] = float("inf")
        model.privacy_ = privacy
