"""The ``simulacra`` command line: a thin Typer layer over the library.

Every bad input ends with one line on stderr, ``error: <what> ; <how to fix>``, and exit code 2; no
traceback. Outputs are never overwritten without ``--force``.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulacra import __version__, datasets
from simulacra.errors import ConfigError, OutputExistsError, SimulacraError
from simulacra.evaluate import check_target
from simulacra.evaluate import evaluate as evaluate_tables
from simulacra.io import read_yaml, write_table
from simulacra.metadata import Metadata
from simulacra.pipeline import STEPS, is_image_source, load_images, load_source
from simulacra.pipeline import run as run_pipeline
from simulacra.report import Report
from simulacra.synthesizers import BaseSynthesizer, ImageSynthesizer, available, make
from simulacra.synthesizers.neural import CHECKPOINT, TorchTraining

console = Console()
err_console = Console(stderr=True)
app = typer.Typer(
    name="simulacra",
    help="Synthetic data you can train on and share: load, prepare, fit a generator, sample, evaluate, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{what} {item!r} must look like name=value")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _params(items: list[str]) -> dict[str, Any]:
    import yaml

    parsed = {}
    for k, v in _pairs(items, "--param").items():
        try:
            parsed[k] = yaml.safe_load(v)
        except yaml.YAMLError:
            parsed[k] = v
    return parsed


def _metrics_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("group")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for r in rows:
        table.add_row(r["group"], r["metric"], f"{r['value']:.4f}")
    return table


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal and "CI" in os.environ,
    )


def _run_with_progress(config: dict[str, Any] | str) -> Any:
    with _progress() as progress:
        task = progress.add_task("starting", total=len(STEPS))

        def on_step(name: str, message: str) -> None:
            progress.update(task, advance=1, description=f"{name}: {message[:70]}")

        def on_progress(name: str, message: str) -> None:
            progress.update(task, description=f"{name}: {message[:90]}")

        result = run_pipeline(config, on_step=on_step, on_progress=on_progress)
        progress.update(task, completed=len(STEPS), description="done")
    return result


def _summary(result: Any, title: str) -> None:
    if result.evaluation is not None:
        console.print(_metrics_table(result.evaluation.rows(), title))
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    console.print(f"[dim]{timing}[/dim]")
    console.print(f"run directory: [bold]{result.path}[/bold]")
    if (result.path / "report.html").exists():
        console.print(f"report: [bold]{result.path / 'report.html'}[/bold]")


@app.command(epilog="Example: simulacra demo -o runs/first-demo")
def demo(
    output: Path = typer.Option(None, "-o", "--output", help="Run directory (default runs/demo-<time>)."),
    model: str = typer.Option("copula", "--model", help=f"Synthesizer: {', '.join(available())}."),
    seed: int = typer.Option(0, "--seed", help="Seed of sampling and of the metrics."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run directory."),
) -> None:
    """Fit a synthesizer to the bundled Adult census table, sample, evaluate and write a report."""
    output = output or Path("runs") / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    config = {
        "data": {"train": "adult"},
        "model": {"name": model, "params": {}},
        "sample": {"seed": seed},
        "output": str(output),
        "force": force,
    }
    _summary(_run_with_progress(config), f"{model} on Adult (TSTR target: income)")


@app.command(
    epilog="Examples: simulacra inspect adult · simulacra inspect data.csv · simulacra inspect 'sqlite:///db.sqlite?table=people'"
)
def inspect(
    source: str = typer.Argument(..., help="File, SQL URL (…?table=NAME) or bundled dataset name."),
    metadata: Path = typer.Option(None, "--metadata", help="JSON/YAML overrides to apply."),
    output: Path = typer.Option(None, "-o", "--output", help="Write the metadata JSON here."),
    force: bool = typer.Option(False, "--force", help="Overwrite --output."),
) -> None:
    """Show the detected metadata of a table: each column's sdtype and the rule that chose it."""
    df = load_source(source)
    meta = Metadata.detect(df)
    if metadata:
        meta.apply_overrides(metadata)
    table = Table(title=f"{source}: {len(df)} rows × {df.shape[1]} columns")
    for col in ("column", "sdtype", "details", "detected because"):
        table.add_column(col)
    for r in meta.explain():
        table.add_row(r["column"], r["sdtype"], r["details"], r["reason"])
    console.print(table)
    if output:
        if output.exists() and not force:
            raise OutputExistsError(f"{output}: already exists; choose another path or pass --force")
        meta.to_json(output)
        console.print(f"metadata written to [bold]{output}[/bold]; edit it and pass it to fit --metadata")


@app.command(
    epilog="Examples: simulacra fit adult --model copula -o models/adult · "
    "simulacra fit mnist --model cgan --param epochs=20 -o models/cgan · "
    "simulacra fit adult --model ctgan --param epochs=300 -o models/ctgan (after an interruption, "
    "the same command plus --resume)"
)
def fit(
    source: str = typer.Argument(
        ..., help="Training data: table file, SQL URL, images (.npz, IDX, class folders) or bundled dataset."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Model directory to write."),
    model: str = typer.Option("copula", "--model", help=f"Synthesizer: {', '.join(available())}."),
    param: list[str] = typer.Option(
        [], "--param", help="Hyper-parameter name=value (repeatable), e.g. --param epochs=20."
    ),
    metadata: Path = typer.Option(None, "--metadata", help="Metadata overrides (JSON/YAML)."),
    checkpoint_every: int = typer.Option(
        10, "--checkpoint-every", help="Neural models: save a checkpoint every N epochs (0: never)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Neural models: continue from the checkpoint of an interrupted fit."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing model directory."),
) -> None:
    """Fit a synthesizer to a table or an image set and save it (neural models show epochs, losses and
    ETA; image models also save sample grids under MODEL_DIR/samples/)."""
    if output.exists() and not force:
        raise OutputExistsError(f"{output}: already exists; choose another path or pass --force")
    synth = make(model, **_params(param))
    if synth.modality == "image":
        data: Any = load_images(source)
        args: tuple[Any, ...] = (data,)
        size = f"{len(data)} images"
    else:
        data = load_source(source)
        meta = Metadata.detect(data)
        if metadata:
            meta.apply_overrides(metadata)
        args, size = (data, meta), f"{len(data)} rows"
    start = time.perf_counter()
    if isinstance(synth, TorchTraining):
        checkpoints = output.with_name(output.name + ".checkpoint")
        if resume and not (checkpoints / CHECKPOINT).is_file():
            err_console.print(f"no checkpoint in {checkpoints}; starting from epoch 0")
        try:
            synth.fit(*args, checkpoint_dir=checkpoints, checkpoint_every=checkpoint_every, resume=resume)
        except KeyboardInterrupt:
            saved = (checkpoints / CHECKPOINT).is_file()
            hint = f"; the same command with --resume continues from {checkpoints}" if saved else ""
            err_console.print(f"interrupted; no model was written{hint}")
            raise typer.Exit(130) from None
    else:
        with err_console.status(f"fitting {model} on {size}"):
            synth.fit(*args)
    synth.save(output, force=force)
    console.print(f"fitted {synth!r} in {time.perf_counter() - start:.1f}s → [bold]{output}[/bold]")


@app.command(
    epilog="Examples: simulacra sample models/adult -n 10000 -o synth.parquet --condition income='>50K' · "
    "simulacra sample models/cgan -n 10000 -o synth.npz · simulacra sample models/cgan -n 100 "
    "--condition label=7 -o sevens/"
)
def sample(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'simulacra fit'."),
    rows: int = typer.Option(..., "-n", "--rows", help="Number of rows (images) to generate."),
    output: str = typer.Option(
        ...,
        "-o",
        "--output",
        help="Tables: .csv, .parquet, .jsonl, .xlsx or an SQL URL (…?table=NAME). Images: .npz, or a "
        "folder for PNGs in class folders.",
    ),
    condition: list[str] = typer.Option(
        [], "--condition", help="column=value every row must have (repeatable); images: label=CLASS."
    ),
    seed: int = typer.Option(0, "--seed", help="Same seed, same rows."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output."),
) -> None:
    """Generate synthetic rows (or images) from a saved model."""
    synth = BaseSynthesizer.load(model_dir)
    conditions = synth.parse_conditions(_pairs(condition, "--condition"))  # type: ignore[attr-defined]
    if not force and not output.count("://") and Path(output).exists():
        raise OutputExistsError(f"{output}: already exists; choose another path or pass --force")
    if isinstance(synth, ImageSynthesizer):
        images = synth.sample(rows, conditions=conditions or None, seed=seed)
        target = Path(output)
        if target.suffix not in ("", ".npz"):
            raise ConfigError(f"{output}: image samples go to an .npz file or a folder (no suffix)")
        where = (
            images.to_npz(target, force=force)
            if target.suffix == ".npz"
            else images.to_folder(target, force=force)
        )
        console.print(f"{len(images)} images → [bold]{where}[/bold]")
        return
    df = synth.sample(rows, conditions=conditions or None, seed=seed)  # type: ignore[union-attr]
    where = write_table(df, output, force=force)
    console.print(f"{len(df)} rows → [bold]{where}[/bold]")


@app.command(
    epilog="Examples: simulacra evaluate adult synth.parquet --test adult --target income -o report.html · "
    "simulacra evaluate mnist synth.npz --model models/cgan -o report.html"
)
def evaluate(
    real: str = typer.Argument(
        ...,
        help="Real training data: table (file, SQL URL), images (.npz, IDX, class folders) or bundled name.",
    ),
    synthetic: str = typer.Argument(..., help="Synthetic table, or images (.npz, class folders)."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="report.html to write (metrics go beside it as .json)."
    ),
    test: str = typer.Option(
        None, "--test", help="Real test rows or images (TSTR, DCR holdout); a bundled dataset brings its own."
    ),
    target: str = typer.Option(None, "--target", help="Column to predict for TSTR/TRTR."),
    model: Path = typer.Option(
        None, "--model", help="Images: the model directory, to show its training curves and grids."
    ),
    metadata: Path = typer.Option(None, "--metadata", help="Metadata overrides (JSON/YAML)."),
    seed: int = typer.Option(0, "--seed"),
    force: bool = typer.Option(False, "--force", help="Overwrite the report."),
) -> None:
    """Score a synthetic table (or image set) against real data; write report.html and its metrics JSON."""
    json_path = output.with_suffix(".json")
    for p in (output, json_path):
        if p.exists() and not force:
            raise OutputExistsError(f"{p}: already exists; choose another path or pass --force")
    if is_image_source(real):
        _evaluate_images(real, synthetic, test, output, json_path, model, seed, force)
        return
    real_df = load_source(real)
    syn_df = load_source(synthetic)
    test_df = load_source(test, part="test") if test else None
    meta = Metadata.detect(real_df)
    if metadata:
        meta.apply_overrides(metadata)
    check_target(meta, target)
    with err_console.status("evaluating"):
        ev = evaluate_tables(real_df, syn_df, meta, real_test=test_df, target=target, seed=seed)
        report = Report(ev, real_df, syn_df, meta, title=f"simulacra: {synthetic} vs {real}")
        report.to_json(json_path, force=force)
        report.to_html(output, force=force)
    console.print(_metrics_table(ev.rows(), "evaluation"))
    console.print(f"report: [bold]{output}[/bold]  metrics: [bold]{json_path}[/bold]")


def _evaluate_images(
    real: str,
    synthetic: str,
    test: str | None,
    output: Path,
    json_path: Path,
    model: Path | None,
    seed: int,
    force: bool,
) -> None:
    from simulacra.evaluate.image import evaluate_images
    from simulacra.io import ImageSet
    from simulacra.report import ImageReport

    train = load_images(real)
    if test is None and real in datasets.available():
        test = real
    real_test = load_images(test, part="test") if test else None
    synth = ImageSet.read(synthetic)
    fitted = BaseSynthesizer.load(model) if model is not None else None
    with err_console.status("evaluating images (the local classifier trains once per dataset)"):
        ev = evaluate_images(train, synth, real_test, seed=seed)
        report = ImageReport(
            ev,
            train,
            synth,
            title=f"simulacra: {synthetic} vs {real}",
            history=getattr(fitted, "history_", None),
            grids=getattr(fitted, "grids_", None),
            seed=seed,
        )
        report.to_json(json_path, force=force)
        report.to_html(output, force=force)
    console.print(_metrics_table(ev.rows(), "evaluation"))
    console.print(f"report: [bold]{output}[/bold]  metrics: [bold]{json_path}[/bold]")


@app.command(
    epilog="Examples: simulacra prepare data.csv -o prepared/ · "
    "simulacra prepare adult.data --test adult.test --config prep.yaml -o prepared/ · "
    "simulacra prepare data.csv --split stratified --split-column label --fractions 0.7,0.1,0.2 -o prepared/"
)
def prepare(
    source: str = typer.Argument(..., help="Table to clean: file, SQL URL or bundled dataset name."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Directory for the parts, preparation.json, report.html."
    ),
    config: Path = typer.Option(
        None, "--config", help="YAML of cleaning options (see simulacra.prepare.table)."
    ),
    test: str = typer.Option(None, "--test", help="A separate test table: cleaned the same way, no split."),
    split_method: str = typer.Option(None, "--split", help="random | stratified | group | time."),
    split_column: str = typer.Option(None, "--split-column", help="Column for stratified/group/time splits."),
    fractions: str = typer.Option(None, "--fractions", help="e.g. 0.8,0.2 or 0.7,0.1,0.2."),
    seed: int = typer.Option(None, "--seed", help="Seed of the split."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Clean a table with a record of every change, profile it and split it into train/test parts."""
    from simulacra.pipeline import run_prepare

    cfg: dict[str, Any] = {}
    if config is not None:
        cfg = read_yaml(config) or {}
        if not isinstance(cfg, dict):
            raise ConfigError(f"{config}: the config must be a mapping of cleaning steps")
    split_cfg = dict(cfg.get("split") or {}) if cfg.get("split", {}) is not None else None
    overrides = {"method": split_method, "column": split_column, "seed": seed}
    if fractions is not None:
        try:
            overrides["fractions"] = [float(f) for f in fractions.split(",")]
        except ValueError:
            raise ConfigError(f"--fractions {fractions!r}: give numbers like 0.8,0.2") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        split_cfg = {**(split_cfg or {}), **given}
    if split_cfg is not None:
        cfg["split"] = split_cfg
    path, prep = run_prepare(source, output, test=test, config=cfg, force=force)
    table = Table(title=f"prepared {source}")
    for col in ("step", "action", "column", "count"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for c in prep.changes:
        table.add_row(c.step, c.action, c.column or "(rows)", str(c.count))
    console.print(table)
    for w in prep.profile["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    parts = ", ".join(f"{k} {len(v)} rows" for k, v in prep.parts.items())
    console.print(f"{parts} → [bold]{path}[/bold] (report: {path / 'report.html'})")


@app.command(
    epilog="Examples: simulacra augment mnist --pipeline aug.yaml --copies 5 -o out/ · "
    "simulacra augment images/ --pipeline aug.yaml -o augmented.npz"
)
def augment(
    source: str = typer.Argument(
        ..., help="Images: a bundled image dataset (its train part), a folder of class folders, .npz or IDX."
    ),
    pipeline: Path = typer.Option(..., "--pipeline", help="YAML with steps: [{op: rotate, degrees: 15}, …]."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="An .npz file, or a folder for PNGs in class folders."
    ),
    copies: int = typer.Option(1, "--copies", help="Augmented copies of every image."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same images."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output."),
) -> None:
    """Write augmented copies of an image set (Kornia: flips, rotations, crops, affine, noise, …)."""
    from simulacra.augment import ImageAugmenter, augment_images

    if output.exists() and not force:
        raise OutputExistsError(f"{output}: already exists; choose another path or pass --force")
    augmenter = ImageAugmenter.from_yaml(pipeline)
    images = load_images(source)
    with err_console.status(f"augmenting {len(images)} images × {copies}"):
        out = augment_images(images, augmenter, copies=copies, seed=seed)
    written = (
        out.to_npz(output, force=force) if output.suffix == ".npz" else out.to_folder(output, force=force)
    )
    console.print(f"{len(out)} augmented images → [bold]{written}[/bold]")
    from simulacra.evaluate.image import psnr_ssim

    strength = psnr_ssim(np.tile(images.images, (copies, 1, 1, 1)), out.images)
    console.print(
        f"augmentation strength against the originals: PSNR {strength['psnr']:.1f} dB, SSIM {strength['ssim']:.3f}"
    )


@app.command("run", epilog="Example: simulacra run examples/adult.yaml")
def run_cmd(
    config: Path = typer.Argument(..., help="YAML config (see simulacra.pipeline)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run directory."),
) -> None:
    """Run the whole pipeline from a YAML config."""
    from simulacra.pipeline import load_config

    cfg = load_config(config)
    cfg["force"] = cfg["force"] or force
    _summary(_run_with_progress(cfg), str(config))


@app.command(
    epilog="Examples: simulacra bench · simulacra bench --models ctgan,tvae --param epochs=50 · "
    "simulacra bench --data my.csv --target label --models copula,tvae --param tvae.epochs=100 · "
    "simulacra bench --data mnist --models cgan,cvae · simulacra bench --models ctgan --repeats 3"
)
def bench(
    models: str = typer.Option(
        None,
        "--models",
        help="Comma-separated registry names (default copula,ctgan,tvae; on images all four).",
    ),
    data: str = typer.Option("adult", "--data", help="Training table: bundled name, file or SQL URL."),
    test: str = typer.Option(None, "--test", help="Real test table (a bundled dataset brings its own)."),
    target: str = typer.Option(
        None, "--target", help="Column for TSTR/TRTR (a bundled dataset brings its own)."
    ),
    param: list[str] = typer.Option(
        [], "--param", help="name=value for every model taking it, or model.name=value (repeatable)."
    ),
    rows: int = typer.Option(100_000, "--rows", help="Rows sampled to time sampling."),
    seed: int = typer.Option(0, "--seed"),
    repeats: int = typer.Option(
        1, "--repeats", help="Runs per model with successive seeds; the table shows mean ± sd."
    ),
    output: Path = typer.Option(None, "-o", "--output", help="Directory for bench.json and bench.md."),
    force: bool = typer.Option(False, "--force", help="Overwrite bench.json/bench.md in --output."),
) -> None:
    """Fit, sample and evaluate several models on one table (each in a fresh process) and tabulate fit
    seconds, sample rows/s, peak memory and quality."""
    from simulacra.bench import cells, columns, run_bench, table_rows, write_results

    images = is_image_source(data)
    models = models or ("dcgan,cgan,vae,cvae" if images else "copula,ctgan,tvae")
    names = [m.strip() for m in models.split(",") if m.strip()]
    output = output or Path("runs") / f"bench-{datetime.now():%Y%m%d-%H%M%S}"
    for name in ("bench.json", "bench.md"):
        if (output / name).exists() and not force:
            raise OutputExistsError(
                f"{output / name}: already exists; choose another --output or pass --force"
            )
    cols = columns("image" if images else "table")
    table = Table(title=f"simulacra bench on {data}")
    for _, title, _ in cols:
        table.add_column(title, justify="left" if title == "model" else "right")

    def show(result: dict[str, Any]) -> None:
        console.print(
            "  ".join(
                f"{title} {cell}" for (_, title, _), cell in zip(cols, cells(result, cols), strict=True)
            )
        )

    results = run_bench(
        names,
        data,
        test=test,
        target=target,
        params=_params(param),
        rows=rows,
        seed=seed,
        repeats=repeats,
        on_result=show,
        report_dir=output if images else None,
    )
    for row in table_rows(results):
        table.add_row(*cells(row, cols))
    info = {"data": data, "models": names, "rows": rows, "seed": seed, "repeats": repeats}
    write_results(results, output, info, force=force)
    Console(width=max(console.width, 170)).print(table)  # never truncate numbers, even in a narrow log
    console.print(f"written: [bold]{output / 'bench.md'}[/bold], [bold]{output / 'bench.json'}[/bold]")
    if images:
        console.print(f"reports: {', '.join(str(output / n / 'report.html') for n in names)}")


@app.command("datasets", epilog="Example: simulacra datasets")
def list_datasets() -> None:
    """List the bundled datasets."""
    for name in datasets.available():
        console.print(f"{name}: {datasets.DATASETS[name]['description']}")


@app.callback(invoke_without_command=True)
def _version(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        console.print(__version__)
        raise typer.Exit()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning simulacra's errors into one line and exit code 2."""
    try:
        result = app(args=argv, standalone_mode=False)
        return int(result or 0) if isinstance(result, int) else 0
    except SimulacraError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        code = 2
    except click.exceptions.UsageError as exc:
        err_console.print(f"[red]error:[/red] {exc.format_message()}", highlight=False, soft_wrap=True)
        code = 2
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("interrupted; nothing was written")
        code = 130
    if __name__ == "__main__" or argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
