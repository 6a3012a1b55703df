"""DP-SGD for the neural table models: per-example clipping and Gaussian noise through Opacus.

Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang (2016), "Deep Learning with Differential
Privacy", CCS; Opacus (Yousefpour et al. 2021, "Opacus: User-Friendly Differential Privacy Library in
PyTorch") computes the per-example gradients (``GradSampleModule``) and clips and noises their sum
(``DPOptimizer``). What :class:`DPTraining` adds to a :class:`~simulacra.synthesizers.neural.TorchSynthesizer`:

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
from typing import Any

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

#: share of the budget spent on estimating undeclared column domains (as AIM's default)
DOMAIN_SHARE = 0.1


class DPTraining:
    """DP-SGD for a :class:`~simulacra.synthesizers.neural.TorchSynthesizer` (see the module docstring).

    The model inherits the ``dp``, ``epsilon``, ``delta`` and ``max_grad_norm`` parameters declared
    here; its training loop draws batches from :meth:`_batches` and its losses are means over the
    batch's rows.
    """

    dp = Hyper(False, Boolean(), "train with DP-SGD (Abadi et al. 2016); the whole fit is (ε, δ)-DP")
    epsilon = Hyper(1.0, Real(gt=0, le=1000), "the whole fit's ε with dp, the domain estimate included")
    delta = Hyper(1e-5, Real(gt=0, lt=1), "the whole fit's δ with dp")
    max_grad_norm = Hyper(1.0, Real(gt=0, le=1e6), "the per-row gradient clipping norm with dp")

    @property
    def differentially_private(self) -> bool:
        return bool(self.dp)

    @property
    def _training_only(self) -> tuple[str, ...]:  # type: ignore[override]
        """A DP fit resumes only with the same ``epochs``: its noise multiplier was planned for them."""
        return ("verbose",) if self.dp else ("epochs", "verbose")

    def _check_dp(self) -> None:
        if self.dp and getattr(self, "patience", None) is not None:
            raise ConfigError(
                f"{self.name}: patience (early stopping) reads the private loss; drop it with dp=true"  # type: ignore[attr-defined]
            )

    def _dp_transformer(self, data: pd.DataFrame) -> TableTransformer:
        """The encoding from the public domain; sets ``domain_`` and the budget left for training."""
        meta = self.metadata_  # type: ignore[attr-defined]
        columns = [c for c in meta.names if meta[c].sdtype not in NOT_LEARNED]
        saved = self._resume_extra()  # type: ignore[attr-defined]
        if "domain" in saved:  # a resumed fit keeps the domain it paid for, once
            self.domain_, self._delta_sgd = Domain.from_state(saved["domain"]), float(saved["delta_sgd"])
        else:
            self.domain_, self._delta_sgd, _ = private_domain(
                data, meta, columns, epsilon=self.epsilon, delta=self.delta, share=DOMAIN_SHARE
            )
        return TableTransformer.from_domain(self.domain_, meta, meta.names, seed=self.seed)  # type: ignore[attr-defined]

    def _dp_attach(self, n_rows: int) -> None:
        """Per-example gradients on every trained module and a ``DPOptimizer`` around each optimizer,
        with the noise multiplier the budget allows for all planned steps."""
        from opacus import GradSampleModule
        from opacus.grad_sample import register_grad_sampler
        from opacus.optimizers import DPOptimizer

        for cls, sampler in self._grad_samplers().items():
            register_grad_sampler(cls)(sampler)

        b = int(self.batch_size)  # type: ignore[attr-defined]
        self._q = min(1.0, b / max(n_rows, 1))
        self._steps_per_epoch = max(1, round(n_rows / b))
        planned = self._steps_per_epoch * int(self.epochs)  # type: ignore[attr-defined]
        try:
            self._noise = sgd_noise(self.epsilon, self._delta_sgd, self._q, max(planned, 1), self.domain_.rho)
        except ValueError:
            raise ConfigError(
                f"{self.name}: epsilon={self.epsilon} is spent on estimating the column domains; "  # type: ignore[attr-defined]
                "declare their min/max and categories in the metadata, or raise epsilon"
            ) from None
        # the Poisson masks and the gradient noise: fresh OS entropy, never the public seed
        self._secret = torch.Generator(device=self.device_)  # type: ignore[attr-defined]
        self._secret.manual_seed(secret_seed())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Opacus warns that secure_mode's own CSPRNG is not installed
            self._grad_modules = [GradSampleModule(m) for m in self._modules().values()]  # type: ignore[attr-defined]
            for name, opt in list(self._optimizers().items()):  # type: ignore[attr-defined]
                dp_opt = DPOptimizer(
                    opt,
                    noise_multiplier=self._noise,
                    max_grad_norm=float(self.max_grad_norm),
                    expected_batch_size=b,
                    loss_reduction="mean",
                    generator=self._secret,
                    secure_mode=True,
                )
                self._replace_optimizer(name, dp_opt)
        self._steps_done = 0

    def _checkpoint_extra(self) -> dict[str, Any]:
        if not self.dp:
            return {}
        return {"domain": self.domain_.to_state(), "delta_sgd": self._delta_sgd}

    def _resumed(self, epochs_done: int) -> None:
        """A resumed DP fit: the steps of the epochs trained before the interruption count too."""
        if self.dp:
            self._steps_done = epochs_done * self._steps_per_epoch

    def _noise_only_step(self, optimizer: Any) -> None:
        """The update of a step whose Poisson sample is empty: no gradient, only the noise (as Opacus'
        data loader does with an empty batch), so that an empty batch is not told by a missing step."""
        optimizer.zero_grad(set_to_none=True)
        for module in self._grad_modules:
            for p in module.parameters():
                if p.requires_grad:
                    p.grad_sample = torch.zeros((0, *p.shape), device=p.device, dtype=p.dtype)
        optimizer.step()

    def _grad_samplers(self) -> dict[type, Any]:
        """Hook: per-example gradient functions ``(module, activations, backprops) → {param: (B, …)}``
        for the model's own layers that Opacus does not know."""
        return {}

    def _replace_optimizer(self, name: str, optimizer: Any) -> None:
        """Hook: put the DP optimizer where the model keeps the optimizer called ``name``."""
        raise NotImplementedError

    def _batches(self, n_rows: int) -> list[torch.Tensor]:
        """One epoch's batches of row indices: ``N / batch_size`` Poisson samples drawn from the secret
        generator, counted; a batch may be empty (take :meth:`_noise_only_step` for it)."""
        out = []
        for _ in range(self._steps_per_epoch):
            u = torch.rand(n_rows, device=self.device_, generator=self._secret)  # type: ignore[attr-defined]
            out.append(torch.nonzero(u < self._q).flatten())
        self._steps_done += len(out)
        return out

    def _dp_detach(self, n_rows: int) -> None:
        """Remove the per-example hooks and record what was spent (``privacy_``)."""
        for gsm in self._grad_modules:
            gsm._close()
        del self._grad_modules, self._secret
        sgd_eps = sgd_epsilon(
            self._q, self._noise, max(self._steps_done, 1), self._delta_sgd, self.domain_.rho
        )
        self.privacy_ = {
            "mechanism": "DP-SGD (Abadi et al. 2016; Opacus), Rényi-DP accountant",
            "epsilon_requested": float(self.epsilon),
            "delta_requested": float(self.delta),
            # no step (epochs=0): only the domain estimate was spent
            "epsilon": sgd_eps if self._steps_done else epsilon_of_rho(self.domain_.rho, self._delta_sgd),
            "delta": self._delta_sgd + self.domain_.delta,
            "noise_multiplier": self._noise,
            "max_grad_norm": float(self.max_grad_norm),
            "sampling_rate": self._q,
            "steps": self._steps_done,
            "rho_domain": self.domain_.rho,
            "delta_domain": self.domain_.delta,
            "declared_domain": sorted(set(self.domain_.columns) - set(self.domain_.estimated)),
            "estimated_domain": self.domain_.estimated,
            "other_bucket": self.domain_.with_other_bucket,
            "not_covered": self.metadata_.names_of("pii"),  # type: ignore[attr-defined]
            "noise": "OS entropy (secrets), never stored; Opacus secure_mode",
        }
        if math.isnan(self.privacy_["epsilon"]):
            self.privacy_["epsilon"] = float("inf")
