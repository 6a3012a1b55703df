"""The image synthesizers (dcgan, cgan, vae, cvae, edm, cedm) on a few hundred real MNIST digits for a few epochs:
behaviour, not quality (that is `simulacra bench --data mnist`'s job)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import assert_same_images, assert_same_weights
from simulacra import datasets
from simulacra.errors import ConditionError, DataError
from simulacra.io import ImageSet
from simulacra.synthesizers import BaseSynthesizer, ImageSynthesizer, Synthesizer, make

MODELS = ["dcgan", "cgan", "vae", "cvae", "edm", "cedm"]
EPOCHS = 4
#: the diffusion models run with half the channels and sample with 3 Heun steps (5 network evaluations)
#: here, for speed, and learn at a higher rate: their 200-step warm-up would otherwise span the test fit
FAST = {name: {"steps": 3, "learning_rate": 5e-3, "width": 16} for name in ("edm", "cedm")}


@pytest.fixture(scope="session")
def digits() -> ImageSet:
    """400 real training digits, 40 of each class."""
    train = datasets.load("mnist")[0]
    idx = np.concatenate([np.flatnonzero(train.labels == k)[:40] for k in range(10)])
    return train.subset(np.sort(idx))


def _fit(name, images, **params):
    defaults = {"epochs": EPOCHS, "batch_size": 32, "verbose": False, "seed": 0, "grid_every": 2}
    params = defaults | FAST.get(name, {}) | params
    return make(name, **params).fit(images)


@pytest.fixture(scope="module", params=MODELS)
def fitted(request, digits):
    return _fit(request.param, digits)


def test_losses_fall(fitted):
    first, last = fitted.history_[0], fitted.history_[-1]
    assert len(fitted.history_) == fitted.epochs_trained_ == EPOCHS
    if fitted.name in ("vae", "cvae"):
        assert last["reconstruction"] < 0.8 * first["reconstruction"]
    elif fitted.name in ("edm", "cedm"):
        assert last["loss"] < 0.8 * first["loss"]
    else:  # the discriminator learns to tell real from generated digits
        assert last["loss_d"] < first["loss_d"] and last["d_real"] > last["d_fake"]


def test_samples_have_shape_dtype_and_balanced_labels(fitted):
    out = fitted.sample(105, seed=1)
    assert out.images.shape == (105, 1, 28, 28) and out.images.dtype == np.uint8
    assert out.images.std() > 10  # not a constant picture
    if fitted.conditional:
        counts = np.bincount(out.labels, minlength=10)
        assert counts.max() - counts.min() <= 1 and out.class_names == [str(k) for k in range(10)]
        sevens = fitted.sample(20, conditions={"label": 7}, seed=1)
        assert (sevens.labels == 7).all()
        assert (fitted.sample(3, conditions={"label": "7"}, seed=1).labels == 7).all()
        with pytest.raises(ConditionError, match="not a class"):
            fitted.sample(3, conditions={"label": 10})
        with pytest.raises(ConditionError, match="only a 'label'"):
            fitted.sample(3, conditions={"colour": 1})
    else:
        assert out.labels is None
        with pytest.raises(ConditionError, match="unconditional"):
            fitted.sample(3, conditions={"label": 7})


def test_seed_reproduces_fit_and_sample(fitted, digits):
    a = fitted.sample(40, seed=5).images
    assert np.array_equal(a, fitted.sample(40, seed=5).images)
    assert not np.array_equal(a, fitted.sample(40, seed=6).images)
    # the fit: one epoch runs every step a longer fit repeats
    once, again = _fit(fitted.name, digits, epochs=1), _fit(fitted.name, digits, epochs=1)
    assert_same_weights(once, again)
    assert_same_images(once.sample(40, seed=5).images, again.sample(40, seed=5).images)
    with pytest.raises(AssertionError, match="weights differ"):
        assert_same_weights(once, _fit(fitted.name, digits, epochs=1, seed=1))


def test_grids_save_load_round_trip(fitted, tmp_path):
    assert [e for e, _ in fitted.grids_] == [2, 4]
    rows = 10  # one row per class (conditional) or a 10 × 10 grid
    assert fitted.grids_[0][1].shape == (2 + rows * 30, 2 + 10 * 30, 1)
    fitted.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m" / "samples").iterdir()) == [
        "epoch_002.png",
        "epoch_004.png",
    ]
    loaded = BaseSynthesizer.load(tmp_path / "m")
    assert isinstance(loaded, ImageSynthesizer) and loaded.name == fitted.name
    assert np.array_equal(loaded.sample(30, seed=3).images, fitted.sample(30, seed=3).images)
    assert np.array_equal(loaded.grids_[1][1], fitted.grids_[1][1])
    with pytest.raises(DataError, match="not a table model"):
        Synthesizer.load(tmp_path / "m")


@pytest.mark.parametrize("name", ["cgan", "cedm"])
def test_resume_gives_the_uninterrupted_weights(name, digits, tmp_path):
    full = _fit(name, digits, epochs=3)
    ckpt = tmp_path / "ckpt"
    params = {"epochs": 3, "batch_size": 32, "verbose": False, "seed": 0, "grid_every": 2}
    params |= FAST.get(name, {})
    part = make(name, **params)

    def stop_after_two(epoch, losses):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        part.fit(digits, checkpoint_dir=ckpt, checkpoint_every=1, on_epoch=stop_after_two)
    assert (ckpt / "checkpoint.pt").is_file()
    resumed = make(name, **params)
    resumed.fit(digits, checkpoint_dir=ckpt, checkpoint_every=1, resume=True)
    assert_same_weights(full, resumed)
    assert not ckpt.exists()  # removed after the successful fit


def test_bad_image_input(digits):
    unlabelled = ImageSet(digits.images[:50])
    with pytest.raises(DataError, match="no labels"):
        make("cgan", epochs=1, verbose=False).fit(unlabelled)
    with pytest.raises(DataError, match="even sides"):
        make("vae", epochs=1, verbose=False).fit(ImageSet(np.zeros((4, 1, 27, 27), np.uint8)))
    with pytest.raises(DataError, match="ImageSet"):
        make("dcgan", epochs=1, verbose=False).fit(digits.images)
    model = make("vae", epochs=1, verbose=False).fit(
        unlabelled
    )  # unconditional models take unlabelled images
    assert model.sample(2, seed=0).images.shape == (2, 1, 28, 28)


def test_table_and_image_models_are_not_mixed(digits, adult_small, tmp_path, capsys):
    from simulacra.cli import main

    with pytest.raises(DataError, match="ImageSet"):
        make("cvae", epochs=1, verbose=False).fit(adult_small[0])
    with pytest.raises(DataError, match="for images use"):
        make("copula").fit(digits)
    from simulacra.bench import run_bench
    from simulacra.errors import ConfigError

    with pytest.raises(ConfigError, match="not for table data"):
        run_bench(["cgan", "copula"], "adult")
    with pytest.raises(ConfigError, match="use cedm, cgan, cvae, dcgan, edm, restore, vae"):
        run_bench(["copula"], "mnist")
    assert main(["demo", "--model", "cgan", "-o", str(tmp_path / "run")]) == 2  # pipeline configs are tabular
    assert "generates images" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_vae_reconstructions_resemble_their_originals(name, digits):
    model = _fit(name, digits)
    some = digits.subset(np.arange(0, 400, 10))
    rec = model.reconstruct(some)
    assert rec.shape == some.images.shape and rec.dtype == np.uint8
    own = np.abs(rec.astype(int) - some.images).mean()
    other = np.abs(rec.astype(int) - some.images[::-1]).mean()  # another digit of another class
    assert own < other


def test_an_unconditional_vae_can_draw_from_the_gaussian_of_its_encodings(digits, tmp_path):
    model = _fit("vae", digits, prior="fitted")
    d = int(model.latent_dim)
    assert model.latent_mean_.shape == (1, d) and model.latent_chol_.shape == (1, d, d)
    spread = model.latent_chol_[0] @ model.latent_chol_[0].T
    assert np.all(np.linalg.eigvalsh(spread) > 0)  # a covariance
    drawn = model.sample(30, seed=2)
    assert drawn.images.std() > 10
    model.save(tmp_path / "m")
    again = BaseSynthesizer.load(tmp_path / "m")
    assert np.array_equal(again.latent_chol_, model.latent_chol_)
    assert np.array_equal(again.sample(30, seed=2).images, drawn.images)
    standard = _fit("vae", digits)
    assert standard.latent_mean_ is None
    assert not np.array_equal(standard.sample(30, seed=2).images, drawn.images)


def test_image_sources_are_told_from_tables(tmp_path):
    from simulacra.pipeline import is_image_source

    (tmp_path / "classes").mkdir()
    assert is_image_source("mnist") and not is_image_source("adult")
    assert is_image_source("x.npz") and is_image_source(str(tmp_path / "classes"))
    assert is_image_source("train-images-idx3-ubyte.gz")
    assert not is_image_source("sqlite:///idx.db?table=people") and not is_image_source("idx_table.csv")


def test_diffusion_denoises_and_guidance_steers(digits):
    """The trained EDM denoiser brings lightly noised digits closer to the originals, the schedule runs
    from σ_max down to 0, and classifier-free guidance changes what is drawn (1 = no guidance)."""
    import torch

    from simulacra.synthesizers.image.diffusion import SIGMA_MAX, SIGMA_MIN, sigma_steps

    sigmas = sigma_steps(6)
    assert sigmas[0] == pytest.approx(SIGMA_MAX) and sigmas[-2] == pytest.approx(SIGMA_MIN)
    assert sigmas[-1] == 0 and bool((sigmas[1:] < sigmas[:-1]).all())
    model = _fit("cedm", digits, epochs=6)
    x0 = torch.from_numpy(digits.images[:64]).float() / 127.5 - 1.0
    y = torch.from_numpy(digits.labels[:64])
    sigma = torch.full((64,), 0.3)
    g = torch.Generator().manual_seed(0)
    noisy = x0 + 0.3 * torch.randn(x0.shape, generator=g)
    with torch.inference_mode():
        denoised = model._denoise(model.ema_, noisy, sigma, y)
    assert (denoised - x0).pow(2).mean() < 0.7 * (noisy - x0).pow(2).mean()
    plain = model.set_params(guidance=1.0).sample(20, seed=2).images
    guided = model.set_params(guidance=4.0).sample(20, seed=2).images
    assert not np.array_equal(plain, guided)
    with pytest.raises(DataError, match="divisible by 4"):
        _fit("edm", ImageSet(np.zeros((4, 1, 10, 10), np.uint8)), epochs=1)


def test_the_auxiliary_classifier_learns_the_classes_and_saves(digits, tmp_path):
    """cgan's ``class_weight`` (AC-GAN): the discriminator gets a class head that learns the real
    digits' classes; the model trains, saves and loads; off by default."""
    import torch

    model = _fit("cgan", digits, class_weight=1.0)
    assert all(np.isfinite(h["loss_g"]) for h in model.history_)
    head = model.discriminator_.eval()
    with torch.inference_mode():
        real = torch.from_numpy(digits.images).float() / 127.5 - 1.0
        said = head.judge(real)[1].argmax(1).numpy()
    assert (said == digits.labels).mean() > 0.5  # chance: 0.1
    assert _fit("cgan", digits, epochs=1).discriminator_.classifier is None
    model.save(tmp_path / "m")
    again = BaseSynthesizer.load(tmp_path / "m")
    assert again.discriminator_.classifier is not None
    assert_same_images(again.sample(30, seed=3).images, model.sample(30, seed=3).images)


def test_diff_augment_shifts_cuts_and_recolours_differentiably():
    """DiffAugment (Zhao et al. 2020) on real CIFAR-10 images: a translation is a whole-pixel shift of
    at most 1/8 of a side with a zero border, a cutout zeroes one half-side square (clipped at the
    edges), colour changes the values, and gradients reach the input."""
    import torch

    from simulacra.synthesizers.image.gan import diff_augment

    x = torch.from_numpy(datasets.load("cifar10")[0].images[:32]).float() / 127.5 - 1.0
    x = x.clamp(-0.99, 0.99)  # no real pixel is exactly zero, so zeros are the border or the cutout
    torch.manual_seed(0)
    assert torch.equal(diff_augment(x, "none"), x)
    moved = diff_augment(x, "translation")
    shifts = set()
    for img, out in zip(x, moved, strict=True):
        found = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if torch.equal(
                out, torch.nn.functional.pad(img, (4, 4, 4, 4))[:, 4 + dy : 36 + dy, 4 + dx : 36 + dx]
            )
        ]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 5  # each image draws its own shift
    cut = diff_augment(x, "cutout")
    zeroed = (cut == 0).all(1)  # (B, H, W)
    for mask, img, out in zip(zeroed, x, cut, strict=True):
        rows, cols = mask.any(1).nonzero().squeeze(1), mask.any(0).nonzero().squeeze(1)
        assert 1 <= len(rows) <= 16 and 1 <= len(cols) <= 16  # one 16×16 square, clipped at the edges
        assert mask.sum() == len(rows) * len(cols)  # a full rectangle
        assert torch.equal(out[:, ~mask], img[:, ~mask])  # the rest untouched
    area = zeroed.sum((1, 2))  # the square's centre lies anywhere in the image: at least a quarter shows
    assert (area >= 64).all() and (area <= 256).all() and (area == 256).any()
    leaf = x.clone().requires_grad_(True)
    coloured = diff_augment(leaf, "color,translation,cutout")
    coloured.square().sum().backward()
    assert leaf.grad.abs().sum() > 0
    assert not torch.isin(coloured[coloured != 0], x).all()  # brightness, saturation, contrast moved values


def test_the_generator_average_draws_saves_and_old_models_load_without_it(digits, tmp_path):
    """cgan's ``ema`` keeps a moving average of the generator's weights that draws the samples, saved
    with the model; ``augment`` trains through DiffAugment. The average is on by default for cgan only,
    and a model saved before the options loads with neither and draws as before."""
    import json

    import torch

    model = _fit("cgan", digits, ema=0.99, augment="color,translation,cutout")
    live = dict(model.generator_.named_parameters())
    moved = [not torch.equal(p, live[k]) for k, p in model.generator_ema_.named_parameters()]
    assert all(moved)  # an average of the steps, not the last weights
    own, borrowed = model.generator_ema_.state_dict(), model.generator_.state_dict()
    means = [k for k in own if k.endswith("running_mean")]
    assert means and all(not torch.allclose(own[k], borrowed[k]) for k in means)  # its own statistics
    assert all(np.isfinite(v) for v in model.history_[-1].values())
    model.save(tmp_path / "m")
    again = BaseSynthesizer.load(tmp_path / "m")
    assert_same_images(again.sample(30, seed=3).images, model.sample(30, seed=3).images)
    model.generator_ema_ = None  # the live generator draws other images
    assert not np.array_equal(model.sample(30, seed=3).images, again.sample(30, seed=3).images)

    assert make("cgan").get_params()["ema"] == 0.999 and make("cgan").get_params()["augment"] == "none"
    assert make("dcgan").get_params()["ema"] is None and make("specgan").get_params()["ema"] is None
    plain = _fit("cgan", digits, epochs=1, ema=None)
    assert plain.generator_ema_ is None and "generator_ema" not in plain._modules()
    plain.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["params"]["ema"], config["params"]["augment"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = BaseSynthesizer.load(tmp_path / "old")
    assert old.get_params()["ema"] is None and old.get_params()["augment"] == "none"
    assert_same_images(old.sample(30, seed=3).images, plain.sample(30, seed=3).images)
