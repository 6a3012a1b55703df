"""The ``simulacra`` command line: a thin Typer layer over :mod:`simulacra.workflow` and the library.

Every bad input ends with one line on stderr, ``error: <what>; <how to fix>``, and exit code 2; no
traceback (:func:`main` is the one place that turns exceptions into that line). Outputs are checked before
any work (a writable place, a format that can take the data, no existing output without ``--force``),
locked while written, and never replace what simulacra did not write. Heavy modules (torch, the models,
the metrics) are imported inside the commands, so ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from simulacra import __version__, datasets
from simulacra.errors import (
    ConfigError,
    DataWarning,
    OutputExistsError,
    PrivacyWarning,
    SimulacraError,
)
from simulacra.io import redact_url
from simulacra.modalities import Status
from simulacra.synthesizers.base import DEFAULT_MODEL, available
from simulacra.validation import MAX_SEED

# markup off: paths, column names and class labels are the user's text ("x[/bold].csv", a column "[/x]"),
# which Rich would read as markup and fail on, or swallow ("[red]b"); styles are given explicitly
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)
app = typer.Typer(
    name="simulacra",
    help="Synthetic data you can train on and share: load, prepare, fit a generator, sample, evaluate, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
_MODELS = ", ".join(available())


def _pairs(items: list[str], what: str) -> dict[str, str]:
    """``name=value`` options as a mapping; a name given twice is refused (keeping the last one would
    silently drop the first)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{what} {item!r} must look like name=value")
        k, v = item.split("=", 1)
        k = k.strip()
        if k in out:
            raise ConfigError(f"{what} {k} is given twice ({out[k]!r} and {v.strip()!r}); give it once")
        out[k] = v.strip()
    return out


def _params(items: list[str]) -> dict[str, Any]:
    """``--param name=value`` pairs, each value read as YAML (``20`` → 20, ``[64, 64]`` → a list)."""
    import yaml

    from simulacra.validation import load_yaml

    parsed = {}
    for k, v in _pairs(items, "--param").items():
        try:
            parsed[k] = load_yaml(v)
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


def _progress():
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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


def _run_with_progress(config: dict[str, Any]) -> Any:
    from simulacra.pipeline import STEPS
    from simulacra.pipeline import run as run_pipeline

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
    console.print(f"{timing}")
    console.print(f"run directory: {result.path}")
    if (result.path / "report.html").exists():
        console.print(f"report: {result.path / 'report.html'}")


class _PrintedStatus(Status):
    """The commands' :class:`~simulacra.modalities.Status` on the terminal: a spinner on stderr
    around long steps, notes as plain stderr lines (no markup: they hold the user's names), a rows bar
    while samples are written, and a steps bar around an experiment."""

    @contextmanager
    def steps(self):
        with _mix_progress() as on_progress:
            yield on_progress

    @contextmanager
    def busy(self, message: str):
        with err_console.status(message):
            yield

    def note(self, message: str) -> None:
        err_console.print(message, highlight=False, soft_wrap=True)

    def rows(self, total: int):
        return _rows_progress(total)


_STATUS = _PrintedStatus()


@app.command(epilog="Example: simulacra demo -o runs/first-demo")
def demo(
    output: Path = typer.Option(None, "-o", "--output", help="Run directory (default runs/demo-<time>)."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help=f"Synthesizer: {_MODELS}."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Seed of sampling and of the metrics."),
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
    from simulacra.io import atomic_write_text, check_not_input, claim
    from simulacra.synthesizers.advice import advise
    from simulacra.workflow import load_source, table_metadata

    if output:
        check_not_input(output, source, metadata)
        claim(output, force=force, kind="file")
    df = load_source(source)
    meta = table_metadata(df, metadata)
    table = Table(title=f"{redact_url(source)}: {len(df)} rows × {df.shape[1]} columns")
    for col in ("column", "sdtype", "details", "detected because"):
        table.add_column(col)
    for r in meta.explain():
        table.add_row(r["column"], r["sdtype"], r["details"], r["reason"])
    console.print(table)
    console.print(advise(df, meta).line(), highlight=False)
    if output:
        atomic_write_text(output, meta.to_json() + "\n", force=force)
        console.print(f"metadata written to {output}; edit it and pass it to fit --metadata")


@app.command(
    epilog="Examples: simulacra fit adult --model copula -o models/adult · "
    "simulacra fit mnist --model cgan --param epochs=20 -o models/cgan · "
    "simulacra fit adult --model ctgan --param epochs=300 -o models/ctgan (after an interruption, "
    "the same command plus --resume) · simulacra fit sms --model textgpt -o models/sms · "
    "simulacra fit reviews.csv --model textgpt --text-column review --label-column stars -o models/reviews"
)
def fit(
    source: str = typer.Argument(
        ..., help="Training data: table file, SQL URL, images (.npz, IDX, class folders) or bundled dataset."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Model directory to write."),
    model: str = typer.Option(
        None,
        "--model",
        help=f"Synthesizer: {_MODELS} (default: mixture on tables, cgan on images, textgpt on texts).",
    ),
    param: list[str] = typer.Option(
        [], "--param", help="Hyper-parameter name=value (repeatable), e.g. --param epochs=20."
    ),
    metadata: Path = typer.Option(None, "--metadata", help="Metadata overrides (JSON/YAML)."),
    text_column: str = typer.Option(
        None, "--text-column", help="Text models: the column holding the texts (default: found by name)."
    ),
    label_column: str = typer.Option(
        None,
        "--label-column",
        help="Text models: the column holding the class labels (default: found by name).",
    ),
    checkpoint_every: int = typer.Option(
        10, "--checkpoint-every", min=0, help="Neural models: save a checkpoint every N epochs (0: never)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Neural models: continue from the checkpoint of an interrupted fit."
    ),
    max_rows: int = typer.Option(
        1_000_000,
        "--max-rows",
        min=100,
        max=10**10,
        help="Tables: a larger table is read in chunks and fitted on a sample of this many rows "
        "(stratified by --stratify) plus the rows holding every bound and category.",
    ),
    stratify: str = typer.Option(
        None, "--stratify", help="Tables over --max-rows: keep this column's shares exactly in the sample."
    ),
    all_rows: bool = typer.Option(
        False,
        "--all-rows",
        help="Neural table models (ctgan, tvae, diffusion), tables over --max-rows: train the networks "
        "on every row, streamed from the source into a memory-mapped file; the encoding is fitted on "
        "the sample.",
    ),
    batch_source: str = typer.Option(
        None,
        "--batch-source",
        help="Neural table models: where the encoded training rows live, 'memory', 'disk' (a "
        "memory-mapped file under TMPDIR) or 'auto' (memory up to 1 GiB; the default). Training is the "
        "same from either.",
    ),
    pii: str = typer.Option(
        "fake",
        "--pii",
        help="Tables: personal-identifier columns become fresh Faker values ('fake') or keyed-hash "
        "pseudonyms ('pseudonymize', with --pii-key-file); never learned either way.",
    ),
    pii_key_file: Path = typer.Option(
        None,
        "--pii-key-file",
        help="The secret key (16+ bytes) for --pii pseudonymize; or set SIMULACRA_PII_KEY. Never stored.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing model directory (simulacra's only)."
    ),
) -> None:
    """Fit a synthesizer to a table, an image set or labelled texts and save it (neural models show
    epochs, losses and ETA; image models also save sample grids under MODEL_DIR/samples/); without
    --model, the default model of the data's modality (mixture, cgan, textgpt)."""
    from simulacra.commands import FitInterrupted, FitRequest
    from simulacra.commands import fit as fit_command

    request = FitRequest.of(
        source=source,
        output=output,
        model=model,
        params=_params(param),
        metadata=metadata,
        text_column=text_column,
        label_column=label_column,
        checkpoint_every=checkpoint_every,
        resume=resume,
        max_rows=max_rows,
        stratify=stratify,
        all_rows=all_rows,
        batch_source=batch_source,
        pii=pii,
        pii_key_file=pii_key_file,
        force=force,
    )
    try:
        result = fit_command(request, _STATUS)
    except FitInterrupted as stop:
        hint = (
            f"; the same command with --resume continues from {stop.resume_from}" if stop.resume_from else ""
        )
        _Stop.how = "terminated" if isinstance(stop.__cause__, Terminated) else "interrupted"
        _Stop.reported = True
        err_console.print(f"{_Stop.how}; no model was written{hint}")
        raise typer.Exit(143 if _Stop.how == "terminated" else 130) from None
    synth = result.model
    console.print(f"fitted {synth!r} in {result.seconds:.1f}s → {output}")
    if hasattr(synth, "summary"):
        console.print(f"{synth.name}: {synth.summary()}", highlight=False)
    if result.advice:
        console.print(result.advice, highlight=False)
    spent = getattr(synth, "privacy_", None)
    if spent:
        console.print(
            f"differential privacy: ε = {spent['epsilon']:.3f} of {spent['epsilon_requested']:g} spent, "
            f"δ = {spent['delta']:.2g} ({spent['mechanism']}); domain declared for "
            f"{len(spent['declared_domain'])} columns, estimated with DP for {len(spent['estimated_domain'])}"
        )
        buckets = spent.get("other_bucket") or []
        if buckets:
            shown = ", ".join(buckets[:6]) + (f" and {len(buckets) - 6} more" if len(buckets) > 6 else "")
            err_console.print(
                f"note: the categories of {shown} were estimated with DP, so samples can hold "
                f"'(other)' (categories too rare to release) and missing values even where the data has "
                "none; declare a column's categories in a metadata file (e.g. a target's classes, from "
                "outside the data) or sample it with --balance/--class-counts, which draw released "
                "categories only",
                highlight=False,
                markup=False,
            )


@app.command(
    epilog="Examples: simulacra sample models/adult -n 10000 -o synth.parquet --condition income='>50K' · "
    "simulacra sample models/bank -n 10000 --balance y -o balanced.csv · simulacra sample models/bank "
    "--balance y --class-counts yes=3000,no=1000 --filter near-copies --filter detection=0.2 --data bank "
    "-o filtered.csv · "
    "simulacra sample models/cgan -n 10000 -o synth.npz · simulacra sample models/cgan -n 100 "
    "--condition label=7 -o sevens/ · simulacra sample models/sms -n 5000 -o synth.jsonl "
    "[--condition label=spam] [--temperature 0.8 --top-p 0.95]"
)
def sample(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'simulacra fit'."),
    rows: int = typer.Option(
        None, "-n", "--rows", help="Number of rows (images) to generate (with --class-counts: their sum)."
    ),
    output: str = typer.Option(
        ...,
        "-o",
        "--output",
        help="Tables: .csv, .tsv, .jsonl, .json (each optionally .gz), .parquet, .xlsx or an SQL URL "
        "(…?table=NAME). Images: .npz, or a folder (no suffix) for PNGs in class folders. "
        "Texts: .jsonl, .csv, .parquet (columns text, label).",
    ),
    condition: list[str] = typer.Option(
        [], "--condition", help="column=value every row must have (repeatable); images: label=CLASS."
    ),
    balance: str = typer.Option(
        None, "--balance", help="Equal counts per class of this column, exactly (conditional sampling)."
    ),
    class_counts: str = typer.Option(
        None, "--class-counts", help="Exact counts per class of the --balance column, e.g. yes=5000,no=5000."
    ),
    filters: list[str] = typer.Option(
        [],
        "--filter",
        help="Drop low-quality rows and top up (repeatable): near-copies[=PERCENTILE], detection=SHARE, "
        "label=CONFIDENCE. Needs --data.",
    ),
    data: str = typer.Option(
        None, "--data", help="The model's real training table (for --filter): bundled name, file or SQL URL."
    ),
    test: str = typer.Option(
        None, "--test", help="Real holdout rows for --filter near-copies (a bundled dataset brings its own)."
    ),
    temperature: float = typer.Option(
        1.0,
        "--temperature",
        help="Below 1: rows crowd the dense regions (precision); above 1: they spread out (recall). "
        "Models with a latent or noise scale, mixture, and the text models (the logits' temperature).",
    ),
    top_k: int = typer.Option(
        None, "--top-k", min=0, help="Text models: keep the k most likely next tokens (0: all)."
    ),
    top_p: float = typer.Option(
        None,
        "--top-p",
        help="Text models: nucleus sampling, keep the smallest token set of this probability.",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Same seed, same rows."),
    keep_formulas: bool = typer.Option(
        False,
        "--keep-formulas",
        help="CSV/TSV output: write text that starts with =, +, -, @ as it is; by default it gets a "
        "leading apostrophe, so that a spreadsheet does not run it as a formula (OWASP).",
    ),
    keep_copies: bool = typer.Option(
        False,
        "--keep-copies",
        help="Text models: keep generated texts that copy a training text (up to case, spacing and "
        "punctuation); by default they are drawn again.",
    ),
    chunk_rows: int = typer.Option(
        100_000,
        "--chunk-rows",
        help="Tables: rows written at a time (a Parquet row group, one SQL insert batch); memory holds "
        "one chunk. The rows do not depend on it.",
    ),
    part_rows: int = typer.Option(
        1_000_000,
        "--part-rows",
        help="Tables written to a folder (-o DIR/): rows per Parquet part file (and per Ray task).",
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        help="Tables written to a folder: write the parts as Ray tasks, at most this many at a time "
        "(needs the extra simulacra[ray]). The files are the same for any number of workers.",
    ),
    ray_address: str = typer.Option(
        None,
        "--ray-address",
        help="With --workers: a Ray cluster (e.g. ray://head:10001, or auto); default: a local instance.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite the output."),
) -> None:
    """Generate synthetic rows, images or texts from a saved model: conditional, class-balanced,
    filtered.

    Tables are streamed: any number of rows is written chunk by chunk with bounded memory, to a file,
    an SQL table (one transaction) or, with -o DIR/, a folder of Parquet parts (optionally written by
    Ray workers). Filtered samples (--filter) are drawn in memory."""
    from simulacra.commands import SampleRequest, parse_class_counts
    from simulacra.commands import sample as sample_command

    request = SampleRequest.of(
        model=model_dir,
        output=output,
        rows=rows,
        conditions=_pairs(condition, "--condition"),
        balance=balance,
        class_counts=parse_class_counts(class_counts),
        filters=filters,
        data=data,
        test=test,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        keep_copies=keep_copies,
        keep_formulas=keep_formulas,
        chunk_rows=chunk_rows,
        part_rows=part_rows,
        workers=workers,
        ray_address=ray_address,
        seed=seed,
        force=force,
    )
    done = sample_command(request, _STATUS)
    if done.filters:
        table = Table(title="filters")
        for col in ("filter", "seen", "dropped", "why"):
            table.add_column(col, justify="right" if col in ("seen", "dropped") else "left")
        for r in done.filters:
            table.add_row(r["filter"], f"{r['seen']:,}", f"{r['dropped']:,}", r["why"])
        err_console.print(table)
    if done.classes is not None:
        shown = ", ".join(f"{c}={k:,}" for c, k in done.classes.items())
        console.print(f"{done.class_column}: {shown}", highlight=False)
    console.print(f"{done.count} {done.unit} → {done.where}")


@contextmanager
def _rows_progress(total: int):
    """A Rich progress bar of rows written, with rows/s and ETA (the models' bar); yields its
    ``on_rows(k)`` callback."""
    from simulacra.synthesizers.training import progress_bar

    started = time.perf_counter()
    with progress_bar("rows", verbose=err_console.is_terminal or "CI" not in os.environ) as progress:
        task = progress.add_task("sampling", total=max(total, 1), losses="")

        def on_rows(k: int) -> None:
            done = progress.tasks[0].completed + k
            rate = done / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=k, losses=f"{rate:,.0f} rows/s")

        yield on_rows


@app.command(
    epilog="Examples: simulacra evaluate adult synth.parquet --test adult --target income -o report.html · "
    "simulacra evaluate mnist synth.npz --model models/cgan -o report.html · "
    "simulacra evaluate sms synth.jsonl --model models/sms -o report.html"
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
        None,
        "--model",
        help="Images and texts: the model directory, to show its training curves (and grids, or its "
        "perplexity on the test texts).",
    ),
    metadata: Path = typer.Option(None, "--metadata", help="Metadata overrides (JSON/YAML)."),
    text_column: str = typer.Option(
        None, "--text-column", help="Texts in a table file: the column holding them (default: found by name)."
    ),
    label_column: str = typer.Option(
        None, "--label-column", help="Texts in a table file: the label column (default: found by name)."
    ),
    privacy: bool = typer.Option(
        False,
        "--privacy",
        help="Tables: also run the privacy attacks (membership inference, singling out, linkability, "
        "attribute inference) with the test rows as the control set; ≈ 20 s on Adult.",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED),
    force: bool = typer.Option(False, "--force", help="Overwrite the report."),
) -> None:
    """Score a synthetic table, image set or text set against real data; write report.html and its
    metrics JSON."""
    from simulacra.commands import EvaluateRequest
    from simulacra.commands import evaluate as evaluate_command

    request = EvaluateRequest.of(
        real=real,
        synthetic=synthetic,
        output=output,
        test=test,
        target=target,
        model=model,
        metadata=metadata,
        text_column=text_column,
        label_column=label_column,
        privacy=privacy,
        seed=seed,
        force=force,
    )
    result = evaluate_command(request, _STATUS)
    console.print(_metrics_table(result.evaluation.rows(), "evaluation"))
    console.print(f"report: {result.report}  metrics: {result.metrics}")


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
    seed: int = typer.Option(None, "--seed", min=0, max=MAX_SEED, help="Seed of the split."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Clean a table with a record of every change, profile it and split it into train/test parts."""
    from simulacra.io import check_not_input, read_yaml
    from simulacra.pipeline import run_prepare

    check_not_input(output, source, test, config)
    cfg: Any = {}
    if config is not None:
        cfg = read_yaml(config) or {}
        if not isinstance(cfg, dict):
            raise ConfigError(f"{config}: the config must be a mapping of cleaning steps")
    split_cfg = cfg.get("split", {})
    overrides: dict[str, Any] = {"method": split_method, "column": split_column, "seed": seed}
    if fractions is not None:
        try:
            overrides["fractions"] = [float(f) for f in fractions.split(",")]
        except ValueError:
            raise ConfigError(f"--fractions {fractions!r}: give numbers like 0.8,0.2") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        cfg["split"] = {**(split_cfg if isinstance(split_cfg, dict) else {}), **given}
    path, prep = run_prepare(source, output, test=test, config=cfg, force=force)
    table = Table(title=f"prepared {redact_url(source)}")
    for col in ("step", "action", "column", "count"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for c in prep.changes:
        table.add_row(c.step, c.action, c.column or "(rows)", str(c.count))
    console.print(table)
    for w in prep.profile["warnings"]:
        console.print(f"warning: {w}")
    parts = ", ".join(f"{k} {len(v)} rows" for k, v in prep.parts.items())
    console.print(f"{parts} → {path} (report: {path / 'report.html'})")


@app.command(
    epilog="Examples: simulacra augment mnist --pipeline aug.yaml --copies 5 -o out/ · "
    "simulacra augment images/ --pipeline aug.yaml -o augmented.npz · "
    "simulacra augment sms --pipeline text_aug.yaml --copies 3 -o out.jsonl"
)
def augment(
    source: str = typer.Argument(
        ...,
        help="Images: a bundled image dataset (its train part), a folder of class folders, .npz or IDX. "
        "Texts: a bundled text dataset (sms), a text file or folder, or a table with --text-column.",
    ),
    pipeline: Path = typer.Option(
        ...,
        "--pipeline",
        help="YAML with steps: [{op: rotate, degrees: 15}, …] or [{op: random_swap, p: 0.1}, …].",
    ),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Images: an .npz file, or a folder (a name without suffix) for PNGs in class folders. "
        "Texts: .jsonl, .csv or .parquet.",
    ),
    copies: int = typer.Option(
        1, "--copies", min=1, max=1000, help="Augmented copies of every image or text."
    ),
    text_column: str = typer.Option(None, "--text-column", help="Texts in a table file: the text column."),
    label_column: str = typer.Option(None, "--label-column", help="Texts in a table file: the label column."),
    test: str = typer.Option(
        None,
        "--test",
        help="Texts: real test texts, to report TRTR with and without the copies (sms brings its own).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Same seed, same output."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output."),
) -> None:
    """Write augmented copies of an image set (Kornia: flips, rotations, crops, affine, noise, …) or of
    labelled texts (EDA: synonym replacement, random insertion, swap, deletion; keyboard typos)."""
    from simulacra.commands import AugmentRequest
    from simulacra.commands import augment as augment_command

    request = AugmentRequest.of(
        source=source,
        pipeline=pipeline,
        output=output,
        copies=copies,
        text_column=text_column,
        label_column=label_column,
        test=test,
        seed=seed,
        force=force,
    )
    done = augment_command(request, _STATUS)
    console.print(f"{done.count} augmented {done.unit} → {done.where}")
    if done.effect:
        console.print(done.effect, highlight=False)


@app.command("run", epilog="Example: simulacra run examples/adult.yaml")
def run_cmd(
    config: Path = typer.Argument(..., help="YAML config (see simulacra.pipeline)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run directory."),
) -> None:
    """Run a YAML config: a list of command steps (steps: [{fit: {…}}, {sample: {…}}, …], any modality),
    or the table pipeline into one run directory (data:, model:, sample:, output:)."""
    from simulacra.commands import is_steps_config, load_steps, run_steps
    from simulacra.io import read_yaml
    from simulacra.pipeline import load_config

    raw = read_yaml(config)
    if is_steps_config(raw):
        steps = load_steps(raw, str(config), force=force)  # every step checked before the first runs
        run_steps(steps, _STATUS, on_step=_step_done)
        return
    cfg = load_config(config)
    cfg["force"] = cfg["force"] or force
    _summary(_run_with_progress(cfg), str(config))


def _step_done(step) -> None:
    from simulacra.commands.run import written

    console.print(f"{step.verb}: done → {written(step)}", highlight=False, soft_wrap=True)


@contextmanager
def _mix_progress():
    """A progress bar for an experiment's steps; yields the ``on_progress(done, total, message)``
    callback the experiments take."""
    with _progress() as progress:
        task = progress.add_task("mixing", total=None)

        def on_progress(done: int, total: int, message: str) -> None:
            progress.update(task, completed=done, total=total, description=message[:80])

        yield on_progress


def _mix_table(summary, result, source: str, repeats: int, downstream: list[str]) -> None:
    """The headline metric of every variant, mean ± sd, one column per downstream model."""
    from simulacra.experiments.mix import percent

    table = Table(
        title=f"simulacra mix on {redact_url(source)}: {result.headline}, mean ± sd over {repeats} repeat(s)"
    )
    for col in ("experiment", "method", "fraction", "variant", "ratio", *downstream):
        table.add_column(col, justify="left" if col in ("experiment", "method", "variant") else "right")
    head = summary[summary.metric == result.headline]
    keys = ["experiment", "method", "fraction", "variant", "ratio"]
    for key, rows in head.groupby(keys, sort=False, dropna=False):
        cells = {r.downstream: f"{r.mean:.4f} ± {r.sd:.4f}" for r in rows.itertuples()}
        exp, method, fraction, variant, ratio = key
        table.add_row(
            exp,
            method,
            percent(fraction),
            variant,
            "–" if ratio != ratio else f"{ratio:.3g}",
            *(cells.get(d, "") for d in downstream),
        )
    Console(width=max(console.width, 120), markup=False).print(table)


def _numbers(text: str, what: str) -> list[float]:
    """``"0,0.25,0.5"`` → ``[0.0, 0.25, 0.5]``; a ConfigError naming ``what`` otherwise."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} {text!r} must be comma-separated numbers, e.g. 0,0.5,1") from None
    if not values:
        raise ConfigError(f"{what} is empty; give comma-separated numbers, e.g. 0,0.5,1")
    return values


@app.command(
    epilog="Examples: simulacra mix adult --model copula --target income · simulacra mix bank --balance y "
    "--model mixture,copula · simulacra mix my.csv --test my_test.csv --target label --fractions 0.05,1 "
    "--write-best best.parquet"
)
def mix(
    source: str = typer.Argument(
        ...,
        help="Training table (bundled name: adult, bank, housing; a file or SQL URL) or labelled images (mnist).",
    ),
    model: str = typer.Option(
        None,
        "--model",
        help=f"Synthesizer(s), comma-separated (default: mixture on tables, cgan on images): {_MODELS}.",
    ),
    target: str = typer.Option(
        None, "--target", help="Column to predict (a bundled dataset brings its own)."
    ),
    test: str = typer.Option(None, "--test", help="Real test table (a bundled dataset brings its own)."),
    ratios: str = typer.Option("0,0.25,0.5,1,2", "--ratios", help="Synthetic rows per real row, 0 … 10."),
    fractions: str = typer.Option(
        "0.01,0.05,0.1,1", "--fractions", help="Shares of the real training rows, in (0, 1]."
    ),
    repeats: int = typer.Option(3, "--repeats", min=1, max=100, help="Repeats with successive seeds."),
    balance: str = typer.Option(
        None,
        "--balance",
        help="Also compare class balancing of this column: none, random, SMOTE, SMOTE-NC, the models.",
    ),
    downstream: str = typer.Option("hgb,logreg", "--downstream", help="Downstream models: hgb, logreg."),
    param: list[str] = typer.Option([], "--param", help="name=value for the synthesizer (repeatable)."),
    metadata: Path = typer.Option(None, "--metadata", help="Metadata overrides (JSON/YAML)."),
    write_best: str = typer.Option(
        None, "--write-best", help="Write the best mixed training set (with a 'synthetic' column) here."
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Seed of the first repeat."),
    output: Path = typer.Option(
        None, "-o", "--output", help="Folder for results.csv, report.html, metrics.json."
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        help="Tables: run every (repeat, fraction) fit and its scores as a Ray task, this many at a "
        "time (needs the extra simulacra[ray]); the results are the same.",
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", help="With --workers: a Ray cluster (ray://head:10001, auto); default: local."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an output simulacra wrote."),
) -> None:
    """Does synthetic data help? Mixing curves (real fractions × synthetic ratios) and, with --balance,
    class balancing against SMOTE, all scored on the real test rows."""
    from simulacra.commands import MixRequest
    from simulacra.commands import mix as mix_command
    from simulacra.experiments.mix import percent

    request = MixRequest.of(
        source=source,
        models=[m.strip() for m in model.split(",") if m.strip()] if model else None,
        target=target,
        test=test,
        fractions=_numbers(fractions, "--fractions"),
        ratios=_numbers(ratios, "--ratios"),
        repeats=repeats,
        balance=balance,
        downstream=[d.strip() for d in downstream.split(",") if d.strip()],
        params=_params(param),
        metadata=metadata,
        write_best=write_best,
        seed=seed,
        output=output,
        workers=workers,
        ray_address=ray_address,
        force=force,
    )
    done = mix_command(request, _STATUS)
    run = done.run
    _mix_table(done.report.summary, run.result, source, repeats, run.downstream)
    for line in run.result.verdicts(run.downstream[0]):
        console.print(line, highlight=False)
    console.print(f"written: {done.output / 'results.csv'}, {done.output / 'report.html'}")
    if done.best_written:
        console.print(
            f"best mixed training set ({percent(request.fractions[-1])} real + "
            f"{run.result.best_ratio:g} × synthetic, {len(run.best):,} rows; column "
            f"{run.best.columns[-1]!r} marks the synthetic rows) → {done.best_written}"
        )


@app.command(
    epilog="Examples: simulacra tune adult --model mixture --trials 20 · simulacra tune bank --model ctgan "
    "--param epochs=50 --trials 20 --workers 2 · simulacra tune my.csv --test test.csv --target label "
    "--model tvae --space learning_rate=1e-4:1e-2:log --space embedding_dim=64,128,256"
)
def tune(
    source: str = typer.Argument(
        ..., help="Training table: bundled name (adult, bank, housing), file or SQL URL."
    ),
    model: str = typer.Option(None, "--model", help=f"Table synthesizer (default: mixture): {_MODELS}."),
    target: str = typer.Option(
        None, "--target", help="Column TSTR predicts (a bundled dataset brings its own)."
    ),
    test: str = typer.Option(
        None,
        "--test",
        help="Real test table, used once to score the refitted best model (a bundled "
        "dataset brings its own); never by the search.",
    ),
    trials: int = typer.Option(20, "--trials", help="Trials, the model's defaults (trial 0) included."),
    space: list[str] = typer.Option(
        [],
        "--space",
        help="Searched parameter: name=LOW:HIGH, name=LOW:HIGH:log or name=A,B,C (repeatable); replaces "
        "or adds to the model's default space.",
    ),
    param: list[str] = typer.Option(
        [], "--param", help="name=value fixed in every trial, e.g. --param epochs=50 (not searched)."
    ),
    objective: str = typer.Option(
        "combined",
        "--objective",
        help="What the search maximises on the validation rows: combined (mean of detection and "
        "utility), detection (XGBoost C2ST) or utility (TSTR/TRTR).",
    ),
    validation: float = typer.Option(
        0.2, "--validation", help="Share of the training rows held out to score the trials, 0.05 … 0.5."
    ),
    metadata: Path = typer.Option(None, "--metadata", help="Metadata overrides (JSON/YAML)."),
    seed: int = typer.Option(
        0, "--seed", min=0, max=MAX_SEED, help="Seed of the split, the sampler, the models and the scores."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Trials at once, as Ray Tune trials sharing this machine's cores (or a cluster's).",
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", help="A Ray cluster (ray://head:10001, auto); default: a local instance."
    ),
    refit: bool = typer.Option(
        True,
        "--refit/--no-refit",
        help="Fit the best parameters on all training rows (OUTPUT/model) and score them on the test table.",
    ),
    output: Path = typer.Option(
        None, "-o", "--output", help="Folder for best_params.json, tune.md, tune.json, trials.csv, model/."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an output simulacra wrote."),
) -> None:
    """Search a table synthesizer's hyper-parameters: Ray Tune trials proposed by Optuna (TPE), each
    scored on a validation split by detection and TSTR; writes the best parameters and a report."""
    from simulacra.commands import TuneRequest
    from simulacra.commands import tune as tune_command
    from simulacra.experiments.tune import fit_command

    request = TuneRequest.of(
        source=source,
        model=model,
        target=target,
        test=test,
        trials=trials,
        space=_pairs(space, "--space"),
        params=_params(param),
        objective=objective,
        validation=validation,
        metadata=metadata,
        seed=seed,
        workers=workers,
        ray_address=ray_address,
        refit=refit,
        output=output,
        force=force,
    )
    done = tune_command(request, _STATUS)
    result, model, output = done.result, done.model, done.output
    table = Table(title=f"simulacra tune {model} on {redact_url(source)}: best trials ({objective})")
    for title in ("trial", *result.space, "detection", "TSTR", "utility", "score"):
        table.add_column(title, justify="right")
    shown = result.trials[result.trials["error"] == ""].sort_values("score", ascending=False).head(5)
    for _, row in shown.iterrows():
        table.add_row(
            str(int(row["trial"])),
            *[f"{row[n]:.4g}" if isinstance(row[n], float) else str(row[n]) for n in result.space],
            *[f"{row[k]:.3f}" for k in ("detection", "tstr", "utility")],
            f"{row['score']:.4f}",
        )
    console.print(table)
    failed = int((result.trials["error"] != "").sum())
    if failed:
        err_console.print(
            f"{failed} trial(s) failed; their errors are in {output / 'tune.md'}", highlight=False
        )
    if result.test is not None:
        console.print(f"refitted on all {done.rows:,} training rows, scored once on the test table:")
        for label, t in (("best trial", result.test), ("defaults", result.test_defaults)):
            console.print(
                f"  {label:<10} score {t['score']:.4f} (detection {t['detection']:.3f}, TSTR "
                f"{t['tstr']:.3f} vs TRTR {t['trtr']:.3f})",
                highlight=False,
            )
    console.print(f"fit them: {fit_command(result).replace('SOURCE', source)}", highlight=False, markup=False)
    extra = ", model/" if result.model is not None else ""
    console.print(f"written: {output}: best_params.json, tune.md, tune.json, trials.csv{extra}")


@app.command(
    epilog="Examples: simulacra bench · simulacra bench --models ctgan,tvae --param epochs=50 · "
    "simulacra bench --data my.csv --target label --models copula,tvae --param tvae.epochs=100 · "
    "simulacra bench --data mnist --models cgan,cvae · simulacra bench --models ctgan --repeats 3 · "
    "simulacra bench --data sms"
)
def bench(
    models: str = typer.Option(
        None,
        "--models",
        help="Comma-separated registry names (default mixture,diffusion,copula,ctgan,tvae; on images all "
        "four; on texts textgpt).",
    ),
    data: str = typer.Option(
        "adult",
        "--data",
        help="Training data: bundled name (adult, bank, housing, mnist, sms), file or SQL URL.",
    ),
    test: str = typer.Option(None, "--test", help="Real test table (a bundled dataset brings its own)."),
    target: str = typer.Option(
        None, "--target", help="Column for TSTR/TRTR (a bundled dataset brings its own)."
    ),
    param: list[str] = typer.Option(
        [], "--param", help="name=value for every model taking it, or model.name=value (repeatable)."
    ),
    rows: int = typer.Option(
        100_000, "--rows", min=1, max=100_000_000, help="Rows sampled to time sampling."
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED),
    repeats: int = typer.Option(
        1,
        "--repeats",
        min=1,
        max=100,
        help="Runs per model with successive seeds; the table shows mean ± sd.",
    ),
    temperatures: str = typer.Option(
        None,
        "--temperatures",
        help="Also sample each model that has a temperature at these (e.g. 0.5,0.75,1,1.25,1.5): "
        "precision/recall in bench.md and tradeoff.png.",
    ),
    privacy: bool = typer.Option(
        True,
        "--privacy/--no-privacy",
        help="Tables: run the privacy attacks (membership inference, singling out, linkability, "
        "inference) on every model and reference row; ≈ 20 s each on Adult.",
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        help="Run the models (and repeats) as Ray tasks, this many at a time, one CPU each (needs the "
        "extra simulacra[ray]); quality is unchanged, times are per core.",
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", help="With --workers: a Ray cluster (ray://head:10001, auto); default: local."
    ),
    output: Path = typer.Option(None, "-o", "--output", help="Directory for bench.json and bench.md."),
    force: bool = typer.Option(False, "--force", help="Overwrite bench.json/bench.md in --output."),
) -> None:
    """Fit, sample and evaluate several models on one table (each in a fresh process) and tabulate fit
    seconds, sample rows/s, peak memory, quality and, for tables, the privacy attacks."""
    from simulacra.bench import cells, columns, run_bench, table_rows, write_results
    from simulacra.io import check_writable
    from simulacra.modalities import of_source

    plugin = of_source(data)
    modality = plugin.name
    names = [m.strip() for m in models.split(",") if m.strip()] if models else list(plugin.bench_models)
    output = output or Path("runs") / f"bench-{datetime.now():%Y%m%d-%H%M%S}"
    taus = _numbers(temperatures, "--temperatures") if temperatures else None
    for tau in taus or []:
        if not 0 < tau <= 10:
            raise ConfigError(f"--temperatures: {tau:g} is not in (0, 10]; give e.g. 0.5,1,1.5")
    for name in ("bench.json", "bench.md", "tradeoff.png"):  # checked before any fit, created after the last
        if (output / name).exists() and not force:
            raise OutputExistsError(
                f"{output / name}: already exists; choose another --output or pass --force"
            )
        check_writable(output / name, kind="file")
    from simulacra.commands import check_ray_options

    workers = check_ray_options(workers, ray_address, "bench")
    cols = columns(modality)

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
        report_dir=output if modality != "table" else None,
        temperatures=taus,
        privacy=privacy,
        workers=workers,
        address=ray_address,
    )
    rows_shown = table_rows(results)
    shown = [c for c in cols if c[0] == "model" or any(r.get(c[0]) is not None for r in rows_shown)]
    table = Table(title=f"simulacra bench on {redact_url(data)}")
    for _, title, _ in shown:
        table.add_column(title, justify="left" if title == "model" else "right")
    for row in rows_shown:
        table.add_row(*cells(row, shown))
    info = {"data": redact_url(data), "models": names, "rows": rows, "seed": seed, "repeats": repeats}
    write_results(results, output, info, force=force)
    Console(width=max(console.width, 230), markup=False).print(
        table
    )  # never truncate numbers, even in a narrow log
    console.print(f"written: {output / 'bench.md'}, {output / 'bench.json'}")
    if modality != "table":
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


def _kind(exc: BaseException) -> str:
    """What a command-line framework exception is, by its class names: Typer ≥ 0.29 vendors Click as
    ``typer._click`` (older Typer uses ``click``), so the classes are recognised by name, not imported."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "NoArgsIsHelpError" in names:  # bare `simulacra`: the help was printed
        return "help"
    if "UsageError" in names or "BadParameter" in names:
        return "usage"
    if "Exit" in names and hasattr(exc, "exit_code"):
        return "exit"
    if "Abort" in names:
        return "abort"
    if "ClickException" in names or "TyperException" in names:
        return "usage"
    return ""


#: the longest error line printed; a longer one (an echoed value) keeps its start and its end (the fix)
MAX_ERROR_CHARS = 1_000


def _error(message: str) -> None:
    line = " ".join(str(message).split())
    if len(line) > MAX_ERROR_CHARS:
        line = f"{line[: MAX_ERROR_CHARS - 300]} … {line[-280:]}"
    from rich.markup import escape

    # the message is text, not markup: "pip install 'simulacra[ray]'" must keep its brackets
    err_console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True, markup=True)


def _warning_printer(previous):
    """A ``warnings.showwarning`` that prints :class:`~simulacra.errors.PrivacyWarning` and
    :class:`~simulacra.errors.DataWarning` as one ``warning:`` line on stderr and hands every other
    warning to ``previous``."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, PrivacyWarning | DataWarning):
            from rich.markup import escape

            text = escape(" ".join(str(message).split()))
            err_console.print(
                f"[yellow]warning:[/yellow] {text}", highlight=False, soft_wrap=True, markup=True
            )
        else:
            previous(message, category, filename, lineno, file, line)

    return show


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (``kill``, a container stop, a job
    scheduler's time limit): as for Ctrl-C, every ``finally`` and cleanup runs on the way out, so
    temporaries, locks and a half-built SQLite file are removed and nothing is left written."""


class _Stop:
    """How the running command was stopped: ``"interrupted"`` (SIGINT) or ``"terminated"`` (SIGTERM),
    recorded by the handlers because Typer returns a bare exit code 130 for a KeyboardInterrupt; and
    whether the command already said so (``fit`` names its checkpoint)."""

    how: str | None = None
    reported = False


def _on_signal(signum, frame) -> None:
    if signum == signal.SIGTERM:
        _Stop.how = "terminated"
        raise Terminated
    _Stop.how = "interrupted"
    raise KeyboardInterrupt


@contextmanager
def _signals_are_interruptions():
    """Within the block, SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated`, each recorded
    in :class:`_Stop` (main thread only, where Python delivers signals); the previous handlers are
    restored afterwards."""
    _Stop.how, _Stop.reported = None, False
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; turn every error into one ``error:`` line on stderr.

    Exit codes: 0 success; 2 bad input, a usage error, or a file system or memory limit met (the line
    says which and what to do); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), in both cases after
    removing what the command had begun to write; 1 an internal error (a bug: the line asks to report
    it, and ``SIMULACRA_DEBUG=1`` shows the traceback).
    """
    with warnings.catch_warnings(), _signals_are_interruptions():  # restored on return
        warnings.showwarning = _warning_printer(warnings.showwarning)
        warnings.simplefilter("always", PrivacyWarning)
        warnings.simplefilter("always", DataWarning)
        code = _run(argv)
    if argv is None:
        sys.exit(code)
    return code


def _run(argv: list[str] | None) -> int:
    """:func:`main` without the exit: the command's exit code."""
    code = _run_command(argv)
    if _Stop.how is not None:  # Ctrl-C or SIGTERM, however the frameworks passed it on
        if not _Stop.reported:
            err_console.print(f"{_Stop.how}; nothing was written")
        code = 143 if _Stop.how == "terminated" else 130
    return code


def _run_command(argv: list[str] | None) -> int:
    """The command's exit code, every error turned into one ``error:`` line."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="simulacra")
        code = int(result) if isinstance(result, int) else 0
    except SimulacraError as exc:
        _error(str(exc))
        code = 2
    except KeyboardInterrupt:  # raised by the handlers (reported by _run) or by the code itself
        _Stop.how = _Stop.how or "interrupted"
        code = 130
    except MemoryError:
        _error("not enough memory for this input; use a smaller input or fewer rows")
        code = 2
    except OSError as exc:  # the file system said no: permissions, a full disk, a name too long, …
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _error(
            f"cannot read or write{where} ({exc.strerror or exc}); check the path, its permissions and free space"
        )
        code = 2
    except Exception as exc:
        kind = _kind(exc)
        if kind == "help":
            code = 0
        elif kind == "usage":
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            _error(f"{message.rstrip('.')}; see 'simulacra --help'")
            code = 2
        elif kind == "exit":
            code = int(exc.exit_code or 0)
        elif kind == "abort":  # older Click's form of Ctrl-C
            _Stop.how = _Stop.how or "interrupted"
            code = 130
        else:
            if os.environ.get("SIMULACRA_DEBUG"):
                raise
            _error(
                f"internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug in simulacra — "
                "rerun with SIMULACRA_DEBUG=1 for the traceback and report it"
            )
            code = 1
    return code


if __name__ == "__main__":
    main()
