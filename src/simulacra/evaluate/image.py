"""Image metrics with no downloaded weights: everything rests on a small CNN trained here, on the real
training images.

* Real images without labels: the same network with random, seeded weights
  (:func:`random_embedding`; Naeem et al. 2020 show random embeddings keep FID-like, precision and
  recall metrics meaningful), and the label-based rows are skipped.
* :class:`ImageClassifier` — two 3×3 convolution blocks (32, 64 channels, ReLU, 2×2 max-pool), a
  128-unit ReLU layer (the *features*) and a linear layer to the classes; Adam 1e-3, batch 128.
  :func:`real_classifier` trains it on the real training images once per dataset and caches the
  weights (``$SIMULACRA_CACHE_DIR`` or ``~/.cache/simulacra``, keyed by a hash of the images, labels and
  recipe); its accuracy on the real test images is TRTR.
* FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018) through ``torchmetrics`` with the classifier's
  128-d penultimate features in place of Inception's — a *local* FID: comparable between models and
  runs on the same dataset, not with published Inception FIDs. Reference rows make the scale readable:
  the real test images (the floor), Gaussian-blurred real images and uniform noise.
* Precision and recall of Kynkäänniemi et al. (2019): the real (synthetic) manifold is the union of
  balls around each real (synthetic) feature vector reaching its ``k``-th nearest neighbour (k = 3);
  precision is the share of synthetic images inside the real manifold, recall the share of real images
  inside the synthetic one.
* TSTR (Esteban et al. 2017): a fresh classifier, same recipe, trained on the synthetic images and
  tested on the real test images, against TRTR. Label agreement: how often the real-trained classifier
  predicts the label a conditional model was asked for. Class balance: 1 − total variation distance
  between the real class frequencies and the classes the classifier sees in the synthetic images.
* Memorisation: pixel-space (RMS over pixels in [0, 1]) distance from every synthetic image to its
  nearest training image, against the same distance for the real test images; ``nn_distance_ratio``
  (median synthetic / median test) well below 1 and a ``near_copy_rate`` well above 0.01 flag copying.
* PSNR and SSIM (Wang et al. 2004) of reconstructions or augmentations against their originals
  (``torchmetrics.functional``), pixels in [0, 1].
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simulacra.errors import DataError
from simulacra.evaluate import Evaluation
from simulacra.evaluate.diversity import prdc
from simulacra.io import ImageSet

CLASSIFIER_EPOCHS = 5
FEATURES = 128


# ---------------------------------------------------------------------- the local classifier
class ImageClassifier(nn.Module):
    """A small CNN for ``(B, C, H, W)`` uint8 (or float in [0, 1]) images → class logits ``(B, K)``.

    ``features(x)`` gives the 128-d penultimate activations; ``num_features`` is what torchmetrics'
    FID/KID read to size their state.
    """

    num_features = FEATURES

    def __init__(self, shape: tuple[int, int, int], n_classes: int) -> None:
        super().__init__()
        c, h, w = shape
        self.shape, self.n_classes = tuple(shape), int(n_classes)
        self.body = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (h // 4) * (w // 4), FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(FEATURES, max(int(n_classes), 1)))

    @staticmethod
    def _float(x: torch.Tensor) -> torch.Tensor:
        return x.float().div(255.0) if x.dtype == torch.uint8 else x.float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self._float(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _FeatureModule(nn.Module):
    """The classifier's feature map as a module (what torchmetrics calls on each batch)."""

    def __init__(self, classifier: ImageClassifier) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = FEATURES

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(x)


def train_classifier(
    images: ImageSet, *, epochs: int = CLASSIFIER_EPOCHS, seed: int = 0, batch_size: int = 128
) -> ImageClassifier:
    """Train an :class:`ImageClassifier` on labelled ``images`` (Adam 1e-3, cross-entropy, shuffled
    batches); returned in eval mode. The same seed gives the same weights; the caller's RNG is untouched.

    Raises
    ------
    DataError
        The images have no labels.
    """
    if images.labels is None:
        raise DataError("a classifier needs labelled images; give an ImageSet with labels")
    x = torch.from_numpy(images.images)
    y = torch.from_numpy(images.labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = ImageClassifier(tuple(images.images.shape[1:]), len(images.class_names))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        for _ in range(int(epochs)):
            for idx in torch.randperm(len(x)).split(int(batch_size)):
                loss = F.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return model.eval()


def random_embedding(shape: tuple[int, int, int], *, seed: int = 0) -> ImageClassifier:
    """An :class:`ImageClassifier` of ``shape`` ``(C, H, W)`` with random weights (PyTorch's default
    initialisation, seeded), in eval mode: the feature map of the image metrics when the real images
    have no labels to train the classifier on. Naeem et al. (2020, "Reliable Fidelity and Diversity
    Metrics for Generative Models", §5) show that randomly initialised embeddings keep fidelity and
    diversity metrics meaningful where no trained embedding fits the data."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return ImageClassifier(tuple(shape), 1).eval()


def _batched(fn, images: np.ndarray, empty: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """``fn`` on batches of the rows of ``images`` (uint8 images, or waveforms for
    :mod:`simulacra.evaluate.audio`), results concatenated (``empty`` for none)."""
    with torch.inference_mode():
        parts = [
            fn(torch.from_numpy(images[i : i + batch_size])).numpy()
            for i in range(0, len(images), batch_size)
        ]
    return np.concatenate(parts) if parts else empty


def predict(model: ImageClassifier, images: np.ndarray) -> np.ndarray:
    """Predicted class indices ``(N,)`` of uint8 images ``(N, C, H, W)``."""
    return _batched(lambda x: model(x).argmax(1), images, np.zeros(0, dtype=np.int64))


def features(model: ImageClassifier, images: np.ndarray) -> np.ndarray:
    """Penultimate features ``(N, 128)`` float32 of uint8 images ``(N, C, H, W)``."""
    return _batched(model.features, images, np.zeros((0, FEATURES), np.float32))


def accuracy(model: ImageClassifier, images: ImageSet) -> float:
    """Share of ``images`` whose label ``model`` predicts."""
    return float((predict(model, images.images) == images.labels).mean())


def cache_dir() -> Path:
    """Where trained classifiers are kept: ``$SIMULACRA_CACHE_DIR``, else ``$XDG_CACHE_HOME/simulacra``,
    else ``~/.cache/simulacra``."""
    if os.environ.get("SIMULACRA_CACHE_DIR"):
        return Path(os.environ["SIMULACRA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "simulacra"


def real_classifier(
    train: ImageSet, *, epochs: int = CLASSIFIER_EPOCHS, seed: int = 0, cache: bool = True
) -> ImageClassifier:
    """The classifier of :func:`train_classifier` on the real training images, trained once and cached
    by a hash of the images, labels, epochs and seed (an unwritable cache is skipped silently)."""
    key = hashlib.sha256()
    for part in (
        train.images.tobytes(),
        train.labels.tobytes(),
        repr((train.images.shape, epochs, seed, FEATURES)),
    ):
        key.update(part if isinstance(part, bytes) else part.encode())
    path = cache_dir() / "classifiers" / f"{key.hexdigest()[:24]}.pt"
    if cache and path.is_file():
        model = ImageClassifier(tuple(train.images.shape[1:]), len(train.class_names))
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
            return model.eval()
        except (RuntimeError, OSError, KeyError):
            pass  # a damaged cache entry: train again
    model = train_classifier(train, epochs=epochs, seed=seed)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, path)
        except OSError:
            pass
    return model


# ---------------------------------------------------------------------- distribution metrics
def fid_kid(
    classifier: ImageClassifier, real: np.ndarray, others: dict[str, np.ndarray], *, seed: int = 0
) -> dict[str, dict[str, float]]:
    """FID and KID (mean and std over subsets) of each image array in ``others`` against ``real`` (all
    uint8 ``(N, C, H, W)``, ≥ 2 images), on the classifier's features, through torchmetrics."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    module = _FeatureModule(classifier).eval()
    sizes = [len(real), *(len(v) for v in others.values())]
    subset = max(2, min(1000, *sizes))
    out: dict[str, dict[str, float]] = {}
    with torch.random.fork_rng(devices=[]), torch.inference_mode(), warnings.catch_warnings():
        torch.manual_seed(int(seed))
        # torchmetrics warns that KID keeps every feature: here 128 floats per image, a few MiB
        warnings.filterwarnings("ignore", message=".*will save all extracted features", category=UserWarning)
        fid = FrechetInceptionDistance(feature=module, reset_real_features=False)
        kid = KernelInceptionDistance(feature=module, subset_size=subset, reset_real_features=False)
        for i in range(0, len(real), 1000):
            batch = torch.from_numpy(real[i : i + 1000])
            fid.update(batch, real=True)
            kid.update(batch, real=True)
        for name, images in others.items():
            fid.reset()
            kid.reset()
            for i in range(0, len(images), 1000):
                batch = torch.from_numpy(images[i : i + 1000])
                fid.update(batch, real=False)
                kid.update(batch, real=False)
            kid_mean, kid_std = kid.compute()
            out[name] = {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}
    return out


def precision_recall(
    real_features: np.ndarray,
    synthetic_features: np.ndarray,
    *,
    k: int = 3,
    max_points: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
    Assessing Generative Models"), density and coverage (Naeem et al. 2020) of feature sets ``(N, F)``
    and ``(M, F)``, each subsampled to ``max_points`` with ``seed``: the tables' :func:`~simulacra.
    evaluate.diversity.prdc` on a network's embeddings, with ``k = 3`` as Kynkäänniemi et al.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``coverage`` in [0, 1] and ``density`` (≈ 1 for one distribution).

    Raises
    ------
    DataError
        Fewer than ``k + 1`` points on either side.
    """
    rng = np.random.default_rng(seed)
    sets = []
    for arr in (real_features, synthetic_features):
        if len(arr) < k + 1:
            raise DataError(f"precision/recall need more than {k} images on each side, got {len(arr)}")
        if len(arr) > max_points:
            arr = arr[rng.choice(len(arr), max_points, replace=False)]
        sets.append(np.asarray(arr, dtype=np.float32))
    return prdc(*sets, k=k)


def nearest_training_images(
    train: np.ndarray, queries: np.ndarray, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the index of its nearest training image and the pixel RMS distance (pixels
    in [0, 1]); both ``(M,)``."""
    t = torch.from_numpy(train.reshape(len(train), -1)).float().div_(255.0)
    index, dist = [], []
    scale = float(np.sqrt(t.shape[1]))
    for i in range(0, len(queries), batch_size):
        q = torch.from_numpy(queries[i : i + batch_size].reshape(-1, t.shape[1])).float().div_(255.0)
        d, j = torch.cdist(q, t).min(1)
        index.append(j.numpy())
        dist.append((d / scale).numpy())
    if not index:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(index), np.concatenate(dist)


def memorisation(train: np.ndarray, synthetic: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    """Pixel-space nearest-neighbour distances of synthetic and real test images to the training images:
    ``nn_distance_ratio`` (median synthetic ÷ median test), ``near_copy_rate`` (share of synthetic images
    closer than the 1 % quantile of the test distances), and the distances' medians and quantiles."""
    _, d_syn = nearest_training_images(train, synthetic)
    _, d_test = nearest_training_images(train, test)
    q01 = float(np.quantile(d_test, 0.01))
    return {
        "nn_distance_ratio": float(np.median(d_syn) / max(np.median(d_test), 1e-12)),
        "near_copy_rate": float((d_syn < q01).mean()),
        "median_synthetic": float(np.median(d_syn)),
        "median_test": float(np.median(d_test)),
        "test_quantile_01": q01,
    }


def psnr_ssim(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of uint8 images ``other`` against ``reference`` (same shape
    ``(N, C, H, W)``), pixels scaled to [0, 1] (torchmetrics' definitions; SSIM with a Gaussian window
    of 11, σ 1.5).

    Raises
    ------
    DataError
        Shapes differ.
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    if reference.shape != other.shape:
        raise DataError(f"PSNR/SSIM need images of the same shape, got {reference.shape} and {other.shape}")
    a = torch.from_numpy(reference).float().div_(255.0)
    b = torch.from_numpy(other).float().div_(255.0)
    psnr = peak_signal_noise_ratio(b, a, data_range=1.0, reduction="none", dim=(1, 2, 3)).clamp_max(100.0)
    ssim = structural_similarity_index_measure(b, a, data_range=1.0)
    return {"psnr": float(psnr.mean()), "ssim": float(ssim)}


def blurred(images: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Gaussian-blurred copies (Kornia, kernel ``2·⌈3σ⌉+1``) of uint8 images: a reference row for FID."""
    from kornia.filters import gaussian_blur2d

    size = 2 * int(np.ceil(3 * sigma)) + 1
    x = torch.from_numpy(images).float()
    y = gaussian_blur2d(x, (size, size), (sigma, sigma))
    return y.round().clamp(0, 255).to(torch.uint8).numpy()


def noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Uniform random uint8 images of ``shape``: the FID reference of no learning at all."""
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


# ---------------------------------------------------------------------- everything at once
def evaluate_images(
    real_train: ImageSet,
    synthetic: ImageSet,
    real_test: ImageSet | None = None,
    *,
    reconstructions: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    classifier_epochs: int = CLASSIFIER_EPOCHS,
    cache: bool = True,
) -> Evaluation:
    """Score synthetic images against the real ones (see the module docstring for each metric).

    Parameters
    ----------
    real_train: the labelled images the generator was fitted on; the local classifier learns on them.
    synthetic: generated images (with labels for TSTR and label agreement).
    real_test: real images nobody trained on: TSTR/TRTR, the "real test" reference row, memorisation.
    reconstructions: ``(originals, reconstructed)`` uint8 arrays for PSNR/SSIM (e.g. a VAE's).
    seed: seeds the classifiers, KID subsets, subsamples and the noise row.
    classifier_epochs: training epochs of the real and TSTR classifiers.
    cache: reuse the real classifier from the cache.

    Returns an :class:`~simulacra.evaluate.Evaluation` with groups ``fidelity``, ``utility``,
    ``privacy`` and ``reconstruction``; ``details["references"]`` holds the FID/KID/precision/recall rows
    of the real test images, blurred real images and noise; ``details["neighbours"]`` the nearest
    training image of the first synthetic images.

    Without labels on the real training images, the features come from :func:`random_embedding` (a
    seeded random CNN) instead of the trained classifier, and the class balance, label agreement and
    TSTR/TRTR are skipped with the reason.

    Raises
    ------
    DataError
        Fewer than 4 images on a side, or images of another shape.
    """
    for name, s in (("synthetic", synthetic), ("test", real_test)):
        if s is None:
            continue
        if s.images.shape[1:] != real_train.images.shape[1:]:
            raise DataError(
                f"the {name} images are {s.images.shape[1:]} (C, H, W), the real ones "
                f"{real_train.images.shape[1:]}; give images of the same size"
            )
        if len(s) < 4:
            raise DataError(f"the {name} images: {len(s)} given, image metrics need at least 4")
    ev = Evaluation()
    clock = time.perf_counter()
    labelled = real_train.labels is not None
    if labelled:
        classifier = real_classifier(real_train, epochs=classifier_epochs, seed=seed, cache=cache)
    else:
        classifier = random_embedding(real_train.images.shape[1:], seed=seed)
    ev.seconds["classifier"] = time.perf_counter() - clock

    clock = time.perf_counter()
    rows = {"synthetic": synthetic.images}
    if real_test is not None:
        rows["real test"] = real_test.images
    rows["blurred real"] = blurred(real_train.images[: max(len(synthetic), 2)])
    rows["noise"] = noise((len(synthetic), *synthetic.images.shape[1:]), seed=seed)
    distances = fid_kid(classifier, real_train.images, rows, seed=seed)
    real_feat = features(classifier, real_train.images)
    for name, images in rows.items():
        distances[name].update(precision_recall(real_feat, features(classifier, images), seed=seed))
    ev.metrics["fidelity"] = {k: distances["synthetic"][k] for k in ("fid", "kid", "precision", "recall")}
    if labelled:
        predicted = predict(classifier, synthetic.images)
        real_freq = np.bincount(real_train.labels, minlength=len(real_train.class_names)) / len(real_train)
        syn_freq = np.bincount(predicted, minlength=len(real_freq)) / max(len(predicted), 1)
        ev.metrics["fidelity"]["class_balance"] = float(1 - 0.5 * np.abs(real_freq - syn_freq).sum())
    else:
        ev.skipped["class balance"] = "the real images have no labels"
    ev.details["references"] = {k: v for k, v in distances.items() if k != "synthetic"}
    ev.details["synthetic"] = distances["synthetic"]
    ev.seconds["fidelity"] = time.perf_counter() - clock

    clock = time.perf_counter()
    utility: dict[str, float] = {}
    if labelled and synthetic.labels is not None:
        utility["label_agreement"] = float((predicted == synthetic.labels).mean())
    if not labelled:
        ev.skipped["tstr"] = "the real training images have no labels"
    elif real_test is None:
        ev.skipped["tstr"] = "needs real test images"
    elif real_test.labels is None:
        ev.skipped["tstr"] = "the real test images have no labels"
    else:
        utility["trtr_accuracy"] = accuracy(classifier, real_test)
        if synthetic.labels is None:
            ev.skipped["tstr"] = "the synthetic images have no labels (an unconditional model)"
        else:
            tstr = train_classifier(synthetic, epochs=classifier_epochs, seed=seed)
            utility["tstr_accuracy"] = accuracy(tstr, real_test)
    if utility:
        ev.metrics["utility"] = utility
    ev.seconds["utility"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if real_test is None:
        ev.skipped["memorisation"] = "needs real test images as the reference distance"
    else:
        mem = memorisation(real_train.images, synthetic.images, real_test.images)
        ev.metrics["privacy"] = {k: mem[k] for k in ("nn_distance_ratio", "near_copy_rate")}
        ev.details["memorisation"] = mem
    index, dist = nearest_training_images(real_train.images, synthetic.images[:16])
    ev.details["neighbours"] = {
        "synthetic": list(range(len(index))),
        "train": index.tolist(),
        "distance": dist.tolist(),
    }
    ev.seconds["privacy"] = time.perf_counter() - clock

    if reconstructions is not None:
        ev.metrics["reconstruction"] = psnr_ssim(*reconstructions)
    ev.details["classifier"] = {
        "architecture": "conv32-pool-conv64-pool-fc128-fc(K)",
        "epochs": int(classifier_epochs) if labelled else 0,
        "weights": "trained on the real images" if labelled else "random (the real images have no labels)",
        "real_test_accuracy": utility.get("trtr_accuracy"),
    }
    return ev
