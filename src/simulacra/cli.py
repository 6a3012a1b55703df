"""The ``simulacra`` command line: parse → request → call → print over :mod:`simulacra.commands`
(an import-linter contract keeps it to that layer and the errors).

Every bad input ends with one line on stderr, ``error: <what>; <how to fix>``, and exit code 2; no
traceback (:func:`main` is the one place that turns exceptions into that line). Outputs are checked before
any work (a writable place, a format that can take the data, no existing output without ``--force``),
locked while written, and never replace what simulacra did not write. Heavy modules (torch, the models,
the metrics) are imported inside the commands, so ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from simulacra import __version__
from simulacra.commands import DEFAULT_MODEL, MAX_SEED, Status, available_models, redact_url
from simulacra.errors import (
    ConfigError,
    DataWarning,
    PrivacyWarning,
    SimulacraError,
)

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
_MODELS = ", ".join(available_models())


# ---------------------------------------------------------------- options shared by the commands
# Declared once (Typer's Annotated form); a command's own options stay in its signature.
Force = Annotated[
    bool, typer.Option("--force", help="Replace the output, if simulacra wrote it (never anything else).")
]
Seed = Annotated[
    int,
    typer.Option(
        "--seed", min=0, max=MAX_SEED, help="Seed of every random step: the same seed, the same output."
    ),
]
MetadataOverrides = Annotated[Path, typer.Option("--metadata", help="Metadata overrides (JSON/YAML).")]
TextColumn = Annotated[
    str,
    typer.Option(
        "--text-column", help="Texts in a table file: the column holding them (default: found by name)."
    ),
]
LabelColumn = Annotated[
    str,
    typer.Option(
        "--label-column",
        help="Texts in a table file: the label column (default: found by name). Images or recordings "
        "listed in a table (--path-column): their class column.",
    ),
]
PathColumn = Annotated[
    str,
    typer.Option(
        "--path-column",
        help="Images or recordings listed in a table file: the column of their file paths (relative to the "
        "table); --label-column names their classes.",
    ),
]
ImageSize = Annotated[
    str,
    typer.Option(
        "--image-size",
        help="Images: bring every picture to this size, 64 or 64x48 (height x width); default the commonest size.",
    ),
]
Channels = Annotated[
    int,
    typer.Option("--channels", help="Images: 1 (grey) or 3 (RGB); default grey only if every picture is."),
]
Resize = Annotated[
    str,
    typer.Option(
        "--resize",
        help="Images of another size: crop (scale to cover, centre crop; the default) or pad (scale to fit, black borders).",
    ),
]
SequenceIndex = Annotated[
    str,
    typer.Option(
        "--sequence-index",
        help="Series: the column ordering rows in time (times or numbers); naming it makes a table one series.",
    ),
]
SequenceKey = Annotated[
    str,
    typer.Option(
        "--sequence-key", help="Series: the entity column, for many sequences rather than one series."
    ),
]
ContextColumns = Annotated[
    str,
    typer.Option(
        "--context-columns", help="Keyed series: columns constant within each entity, comma-separated (a,b)."
    ),
]
ParentTable = Annotated[
    str,
    typer.Option(
        "--parent-table",
        help="Keyed series: a table (file or SQL URL) with one row per entity, joined on --sequence-key; "
        "its other columns become the context columns.",
    ),
]
RayAddress = Annotated[
    str,
    typer.Option(
        "--ray-address", help="With --workers: a Ray cluster (ray://head:10001, auto); default: a local one."
    ),
]


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

    from simulacra.commands.support import load_yaml

    parsed = {}
    for k, v in _pairs(items, "--param").items():
        try:
            parsed[k] = load_yaml(v)
        except yaml.YAMLError:
            parsed[k] = v
    return parsed


def _request(request_class: Any, options: dict[str, Any], **renamed: Any) -> Any:
    """A command's request from its parsed options: every option whose name is a field of the request
    (the CLI's option names are the requests' field names, ``_`` for ``-``), plus ``renamed`` fields
    whose option is named or parsed differently (``--param`` → ``params``)."""
    fields = {k: v for k, v in options.items() if k in request_class.model_fields and k != "command"}
    return request_class.of(**{**fields, **renamed})


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
    from simulacra.commands import PIPELINE_STEPS as STEPS
    from simulacra.commands import run_pipeline

    with _progress() as progress:
        task = progress.add_task("starting", total=len(STEPS))

        def on_step(name: str, message: str) -> None:
            progress.update(task, advance=1, description=f"{name}: {message[:70]}")

        def on_progress(name: str, message: str) -> None:
            progress.update(task, description=f"{name}: {message[:90]}")

        # inside the run's own bar, the commands' notes only (a second live display is refused)
        result = run_pipeline(config, status=_NotesStatus(), on_step=on_step, on_progress=on_progress)
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
        with _steps_progress() as on_progress:
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


class _NotesStatus(Status):
    """The commands' notes on stderr, without spinners or bars (for a run that draws its own)."""

    def note(self, message: str) -> None:
        err_console.print(message, highlight=False, soft_wrap=True)


class _Demo:
    """The options of ``simulacra demo``."""

    output = Annotated[Path, typer.Option("-o", "--output", help="Run directory (default runs/demo-<time>).")]
    model = Annotated[str, typer.Option("--model", help=f"Synthesizer: {_MODELS}.")]


@app.command(epilog="Example: simulacra demo -o runs/first-demo")
def demo(
    output: _Demo.output = None,
    model: _Demo.model = DEFAULT_MODEL,
    seed: Seed = 0,
    force: Force = False,
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


class _Inspect:
    """The options of ``simulacra inspect``."""

    source = Annotated[str, typer.Argument(help="File, SQL URL (…?table=NAME) or bundled dataset name.")]
    output = Annotated[Path, typer.Option("-o", "--output", help="Write the metadata JSON here.")]


@app.command(
    epilog="Examples: simulacra inspect adult · simulacra inspect data.csv · simulacra inspect 'sqlite:///db.sqlite?table=people'"
)
def inspect(
    source: _Inspect.source,
    metadata: MetadataOverrides = None,
    output: _Inspect.output = None,
    force: Force = False,
) -> None:
    """Show the detected metadata of a table: each column's sdtype and the rule that chose it."""
    from simulacra.commands import InspectRequest
    from simulacra.commands import inspect as inspect_command

    found = inspect_command(InspectRequest.of(source=source, metadata=metadata, output=output, force=force))
    table = Table(title=f"{redact_url(source)}: {found.rows} rows × {found.columns} columns")
    for col in ("column", "sdtype", "details", "detected because"):
        table.add_column(col)
    for r in found.metadata.explain():
        table.add_row(r["column"], r["sdtype"], r["details"], r["reason"])
    console.print(table)
    console.print(found.advice, highlight=False)
    if found.written:
        console.print(f"metadata written to {output}; edit it and pass it to fit --metadata")


class _Fit:
    """The options of ``simulacra fit``."""

    source = Annotated[
        str,
        typer.Argument(
            help="Training data: table file, SQL URL, images (.npz, IDX, class folders), recordings (WAV/FLAC/OGG folder, .npz) or bundled dataset."
        ),
    ]
    output = Annotated[Path, typer.Option("-o", "--output", help="Model directory to write.")]
    model = Annotated[
        str,
        typer.Option(
            "--model",
            help=f"Synthesizer: {_MODELS} (default: mixture on tables, cgan on images, textgpt on texts).",
        ),
    ]
    param = Annotated[
        list[str],
        typer.Option("--param", help="Hyper-parameter name=value (repeatable), e.g. --param epochs=20."),
    ]
    checkpoint_every = Annotated[
        int,
        typer.Option(
            "--checkpoint-every", min=0, help="Neural models: save a checkpoint every N epochs (0: never)."
        ),
    ]
    resume = Annotated[
        bool,
        typer.Option("--resume", help="Neural models: continue from the checkpoint of an interrupted fit."),
    ]
    max_rows = Annotated[
        int,
        typer.Option(
            "--max-rows",
            min=100,
            max=10**10,
            help="Tables: a larger table is read in chunks and fitted on a sample of this many rows (stratified by --stratify) plus the rows holding every bound and category.",
        ),
    ]
    stratify = Annotated[
        str,
        typer.Option(
            "--stratify", help="Tables over --max-rows: keep this column's shares exactly in the sample."
        ),
    ]
    all_rows = Annotated[
        bool,
        typer.Option(
            "--all-rows",
            help="Neural table models (ctgan, tvae, diffusion), tables over --max-rows: train the networks on every row, streamed from the source into a memory-mapped file; the encoding is fitted on the sample.",
        ),
    ]
    batch_source = Annotated[
        str,
        typer.Option(
            "--batch-source",
            help="Neural table models: where the encoded training rows live, 'memory', 'disk' (a memory-mapped file under TMPDIR) or 'auto' (memory up to 1 GiB; the default). Training is the same from either.",
        ),
    ]
    pii = Annotated[
        str,
        typer.Option(
            "--pii",
            help="Tables: personal-identifier columns become fresh Faker values ('fake') or keyed-hash pseudonyms ('pseudonymize', with --pii-key-file); never learned either way.",
        ),
    ]
    pii_key_file = Annotated[
        Path,
        typer.Option(
            "--pii-key-file",
            help="The secret key (16+ bytes) for --pii pseudonymize; or set SIMULACRA_PII_KEY. Never stored.",
        ),
    ]
    log_dir = Annotated[
        Path,
        typer.Option(
            "--log-dir",
            help="Neural models: write each epoch's losses as TensorBoard scalars into this folder; watch with 'tensorboard --logdir DIR'.",
        ),
    ]


@app.command(
    epilog="Examples: simulacra fit adult --model copula -o models/adult · "
    "simulacra fit mnist --model cgan --param epochs=20 -o models/cgan · "
    "simulacra fit adult --model ctgan --param epochs=300 -o models/ctgan (after an interruption, "
    "the same command plus --resume) · simulacra fit sms --model textgpt -o models/sms · "
    "simulacra fit reviews.csv --model textgpt --text-column review --label-column stars -o models/reviews · "
    "simulacra fit recordings/ -o models/speech (WAV files in class folders or named {digit}_{speaker}_{n}.wav; specvae)"
)
def fit(
    source: _Fit.source,
    output: _Fit.output,
    model: _Fit.model = None,
    param: _Fit.param = (),
    metadata: MetadataOverrides = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    path_column: PathColumn = None,
    image_size: ImageSize = None,
    channels: Channels = None,
    resize: Resize = None,
    sequence_index: SequenceIndex = None,
    sequence_key: SequenceKey = None,
    context_columns: ContextColumns = None,
    parent_table: ParentTable = None,
    checkpoint_every: _Fit.checkpoint_every = 10,
    resume: _Fit.resume = False,
    max_rows: _Fit.max_rows = 1_000_000,
    stratify: _Fit.stratify = None,
    all_rows: _Fit.all_rows = False,
    batch_source: _Fit.batch_source = None,
    pii: _Fit.pii = "fake",
    pii_key_file: _Fit.pii_key_file = None,
    log_dir: _Fit.log_dir = None,
    force: Force = False,
) -> None:
    """Fit a synthesizer to a table, an image set, labelled texts or a time series and save it (neural models show
    epochs, losses and ETA; image models also save sample grids under MODEL_DIR/samples/); without
    --model, the default model of the data's modality (mixture, cgan, textgpt, series-ar)."""
    from simulacra.commands import FitInterrupted, FitRequest
    from simulacra.commands import fit as fit_command

    request = _request(FitRequest, locals(), params=_params(param))
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
    _print_privacy(getattr(synth, "privacy_", None))


def _print_privacy(spent: dict | None) -> None:
    """The ε and δ a DP fit spent, and a note on categories estimated with DP."""
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


class _Sample:
    """The options of ``simulacra sample``."""

    model_dir = Annotated[Path, typer.Argument(help="Model directory written by 'simulacra fit'.")]
    rows = Annotated[
        int,
        typer.Option(
            "-n", "--rows", help="Number of rows (images) to generate (with --class-counts: their sum)."
        ),
    ]
    output = Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            help="Tables: .csv, .tsv, .jsonl, .json (each optionally .gz), .parquet, .xlsx or an SQL URL (…?table=NAME). Images: .npz, or a folder (no suffix) for PNGs in class folders. Texts: .jsonl, .csv, .parquet (columns text, label).",
        ),
    ]
    condition = Annotated[
        list[str],
        typer.Option(
            "--condition",
            help="column=value every row must have (repeatable); images and texts: label=CLASS.",
        ),
    ]
    balance = Annotated[
        str,
        typer.Option(
            "--balance", help="Equal counts per class of this column, exactly (conditional sampling)."
        ),
    ]
    class_counts = Annotated[
        str,
        typer.Option(
            "--class-counts", help="Exact counts per class of the --balance column, e.g. yes=5000,no=5000."
        ),
    ]
    filters = Annotated[
        list[str],
        typer.Option(
            "--filter",
            help="Drop low-quality rows and top up (repeatable): near-copies[=PERCENTILE], detection=SHARE, label=CONFIDENCE (images and texts: label only). Needs --data.",
        ),
    ]
    filter_record = Annotated[
        Path,
        typer.Option(
            "--filter-record",
            help="With --filter: write what each filter dropped, and why, to this JSON file (for evaluate --filter-record).",
        ),
    ]
    data = Annotated[
        str,
        typer.Option(
            "--data", help="The model's real training table (for --filter): bundled name, file or SQL URL."
        ),
    ]
    test = Annotated[
        str,
        typer.Option(
            "--test", help="Real holdout rows for --filter near-copies (a bundled dataset brings its own)."
        ),
    ]
    sequence_length = Annotated[
        int,
        typer.Option(
            "--sequence-length",
            help="Series: the length of every sequence (keyed models), or draw -n independent windows of this many rows (one-series models).",
        ),
    ]
    context_output = Annotated[
        str,
        typer.Option(
            "--context-output",
            help="Keyed series: write the sampled entities' context columns to this file (or SQL URL), one row per key, and leave them out of -o; fit reads them back with --parent-table.",
        ),
    ]
    temperature = Annotated[
        float,
        typer.Option(
            "--temperature",
            help="Below 1: rows crowd the dense regions (precision); above 1: they spread out (recall). Models with a latent or noise scale, mixture, and the text models (the logits' temperature).",
        ),
    ]
    top_k = Annotated[
        int, typer.Option("--top-k", min=0, help="Text models: keep the k most likely next tokens (0: all).")
    ]
    top_p = Annotated[
        float,
        typer.Option(
            "--top-p", help="Text models: nucleus sampling, keep the smallest token set of this probability."
        ),
    ]
    keep_formulas = Annotated[
        bool,
        typer.Option(
            "--keep-formulas",
            help="CSV/TSV output: write text that starts with =, +, -, @ as it is; by default it gets a leading apostrophe, so that a spreadsheet does not run it as a formula (OWASP).",
        ),
    ]
    keep_copies = Annotated[
        bool,
        typer.Option(
            "--keep-copies",
            help="Text models: keep generated texts that copy a training text (up to case, spacing and punctuation); by default they are drawn again.",
        ),
    ]
    chunk_rows = Annotated[
        int,
        typer.Option(
            "--chunk-rows",
            help="Tables: rows written at a time (a Parquet row group, one SQL insert batch); memory holds one chunk. The rows do not depend on it.",
        ),
    ]
    part_rows = Annotated[
        int,
        typer.Option(
            "--part-rows",
            help="Tables written to a folder (-o DIR/): rows per Parquet part file (and per Ray task).",
        ),
    ]
    workers = Annotated[
        int,
        typer.Option(
            "--workers",
            help="Tables, and keyed series or windows, written to a folder: write the parts as Ray tasks, at most this many at a time (needs the extra simulacra[ray]). The files are the same for any number of workers.",
        ),
    ]


@app.command(
    epilog="Examples: simulacra sample models/adult -n 10000 -o synth.parquet --condition income='>50K' · "
    "simulacra sample models/bank -n 10000 --balance y -o balanced.csv · simulacra sample models/bank "
    "--balance y --class-counts yes=3000,no=1000 --filter near-copies --filter detection=0.2 --data bank "
    "-o filtered.csv · "
    "simulacra sample models/cgan -n 10000 -o synth.npz · simulacra sample models/cgan -n 100 "
    "--condition label=7 -o sevens/ · simulacra sample models/sms -n 5000 -o synth.jsonl "
    "[--condition label=spam] [--temperature 0.8 --top-p 0.95] · "
    "simulacra sample models/speech -n 2000 -o spoken/ (WAV files in class folders; or spoken.npz)"
)
def sample(
    model_dir: _Sample.model_dir,
    output: _Sample.output,
    rows: _Sample.rows = None,
    condition: _Sample.condition = (),
    balance: _Sample.balance = None,
    class_counts: _Sample.class_counts = None,
    filters: _Sample.filters = (),
    filter_record: _Sample.filter_record = None,
    data: _Sample.data = None,
    test: _Sample.test = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    path_column: PathColumn = None,
    image_size: ImageSize = None,
    channels: Channels = None,
    resize: Resize = None,
    temperature: _Sample.temperature = 1.0,
    sequence_length: _Sample.sequence_length = None,
    context_output: _Sample.context_output = None,
    top_k: _Sample.top_k = None,
    top_p: _Sample.top_p = None,
    seed: Seed = 0,
    keep_formulas: _Sample.keep_formulas = False,
    keep_copies: _Sample.keep_copies = False,
    chunk_rows: _Sample.chunk_rows = 100_000,
    part_rows: _Sample.part_rows = 1_000_000,
    workers: _Sample.workers = None,
    ray_address: RayAddress = None,
    force: Force = False,
) -> None:
    """Generate synthetic rows, images or texts from a saved model: conditional, class-balanced,
    filtered.

    Tables are streamed: any number of rows is written chunk by chunk with bounded memory, to a file,
    an SQL table (one transaction) or, with -o DIR/, a folder of Parquet parts (optionally written by
    Ray workers). Filtered samples (--filter) are drawn in memory."""
    from simulacra.commands import SampleRequest, parse_class_counts
    from simulacra.commands import sample as sample_command

    request = _request(
        SampleRequest,
        locals(),
        model=model_dir,
        conditions=_pairs(condition, "--condition"),
        class_counts=parse_class_counts(class_counts),
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
    from simulacra.commands.support import progress_bar

    started = time.perf_counter()
    with progress_bar("rows", verbose=err_console.is_terminal or "CI" not in os.environ) as progress:
        task = progress.add_task("sampling", total=max(total, 1), losses="")

        def on_rows(k: int) -> None:
            done = progress.tasks[0].completed + k
            rate = done / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=k, losses=f"{rate:,.0f} rows/s")

        yield on_rows


class _Evaluate:
    """The options of ``simulacra evaluate``."""

    real = Annotated[
        str,
        typer.Argument(
            help="Real training data: table (file, SQL URL), images (.npz, IDX, class folders) or bundled name."
        ),
    ]
    synthetic = Annotated[str, typer.Argument(help="Synthetic table, or images (.npz, class folders).")]
    output = Annotated[
        Path, typer.Option("-o", "--output", help="report.html to write (metrics go beside it as .json).")
    ]
    test = Annotated[
        str,
        typer.Option(
            "--test", help="Real test rows or images (TSTR, DCR holdout); a bundled dataset brings its own."
        ),
    ]
    target = Annotated[str, typer.Option("--target", help="Column to predict for TSTR/TRTR.")]
    model = Annotated[
        Path,
        typer.Option(
            "--model",
            help="The model directory: images and texts show its training curves (and grids, or its perplexity on the test texts); a differentially private table model its privacy budget.",
        ),
    ]
    preparation = Annotated[
        Path,
        typer.Option(
            "--preparation",
            help="Tables: the preparation.json simulacra prepare wrote for REAL; the report lists every change.",
        ),
    ]
    unfiltered = Annotated[
        str,
        typer.Option(
            "--unfiltered",
            help="Tables: the rows as drawn without sample's --filter (same model, seed and count); with --filter-record, the report shows the metrics before and after filtering.",
        ),
    ]
    filter_record = Annotated[
        Path, typer.Option("--filter-record", help="Tables: the JSON that sample --filter-record wrote.")
    ]
    privacy = Annotated[
        bool,
        typer.Option(
            "--privacy",
            help="Tables: also run the privacy attacks (membership inference, singling out, linkability, attribute inference) with the test rows as the control set; ≈ 20 s on Adult.",
        ),
    ]


@app.command(
    epilog="Examples: simulacra evaluate adult synth.parquet --test adult --target income -o report.html · "
    "simulacra evaluate mnist synth.npz --model models/cgan -o report.html · "
    "simulacra evaluate sms synth.jsonl --model models/sms -o report.html · "
    "simulacra evaluate fsdd spoken/ --model models/fsdd -o report.html"
)
def evaluate(
    real: _Evaluate.real,
    synthetic: _Evaluate.synthetic,
    output: _Evaluate.output,
    test: _Evaluate.test = None,
    target: _Evaluate.target = None,
    model: _Evaluate.model = None,
    metadata: MetadataOverrides = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    path_column: PathColumn = None,
    image_size: ImageSize = None,
    channels: Channels = None,
    resize: Resize = None,
    sequence_index: SequenceIndex = None,
    sequence_key: SequenceKey = None,
    context_columns: ContextColumns = None,
    parent_table: ParentTable = None,
    privacy: _Evaluate.privacy = False,
    preparation: _Evaluate.preparation = None,
    unfiltered: _Evaluate.unfiltered = None,
    filter_record: _Evaluate.filter_record = None,
    seed: Seed = 0,
    force: Force = False,
) -> None:
    """Score a synthetic table, image set or text set against real data; write report.html and its
    metrics JSON."""
    from simulacra.commands import EvaluateRequest
    from simulacra.commands import evaluate as evaluate_command

    request = _request(EvaluateRequest, locals())
    result = evaluate_command(request, _STATUS)
    console.print(_metrics_table(result.evaluation.rows(), "evaluation"))
    console.print(f"report: {result.report}  metrics: {result.metrics}")


class _Prepare:
    """The options of ``simulacra prepare``."""

    source = Annotated[str, typer.Argument(help="Table to clean: file, SQL URL or bundled dataset name.")]
    output = Annotated[
        Path, typer.Option("-o", "--output", help="Directory for the parts, preparation.json, report.html.")
    ]
    config = Annotated[
        Path, typer.Option("--config", help="YAML of cleaning options (see simulacra.prepare.table).")
    ]
    test = Annotated[
        str, typer.Option("--test", help="A separate test table: cleaned the same way, no split.")
    ]
    split_method = Annotated[str, typer.Option("--split", help="random | stratified | group | time.")]
    split_column = Annotated[
        str, typer.Option("--split-column", help="Column for stratified/group/time splits.")
    ]
    fractions = Annotated[str, typer.Option("--fractions", help="e.g. 0.8,0.2 or 0.7,0.1,0.2.")]
    restore = Annotated[
        Path,
        typer.Option(
            "--restore",
            help="Images: a restoration model (simulacra fit DATA --model restore) that denoises or "
            "super-resolves every image into -o (.npz, or a folder for PNGs).",
        ),
    ]


@app.command(
    epilog="Examples: simulacra prepare data.csv -o prepared/ · "
    "simulacra prepare adult.data --test adult.test --config prep.yaml -o prepared/ · "
    "simulacra prepare data.csv --split stratified --split-column label --fractions 0.7,0.1,0.2 -o prepared/ · "
    "simulacra prepare noisy/ --restore models/denoise -o clean.npz"
)
def prepare(
    source: _Prepare.source,
    output: _Prepare.output,
    config: _Prepare.config = None,
    test: _Prepare.test = None,
    split_method: _Prepare.split_method = None,
    split_column: _Prepare.split_column = None,
    fractions: _Prepare.fractions = None,
    seed: Seed = None,
    restore: _Prepare.restore = None,
    force: Force = False,
) -> None:
    """Clean a table with a record of every change, profile it and split it into train/test parts;
    or, with --restore, denoise or super-resolve images."""
    from simulacra.commands import PrepareRequest
    from simulacra.commands import prepare as prepare_command

    parts = None
    if fractions is not None:
        try:
            parts = [float(f) for f in fractions.split(",")]
        except ValueError:
            raise ConfigError(f"--fractions {fractions!r}: give numbers like 0.8,0.2") from None
    request = _request(PrepareRequest, locals(), split=split_method, fractions=parts)
    path, prep = prepare_command(request)
    if restore is not None:
        if prep.rule:
            console.print(f"read {prep.rule}")
        console.print(f"restored {prep.n:,} {prep.unit} ({prep.task}) → {prep.where}")
        return
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


class _Augment:
    """The options of ``simulacra augment``."""

    source = Annotated[
        str,
        typer.Argument(
            help="Images: a bundled image dataset (its train part), a folder of class folders, .npz or IDX. Texts: a bundled text dataset (sms), a text file or folder, or a table with --text-column. Series: a bundled series (stocks, energy) or a table with --sequence-index or --sequence-key. Recordings: fsdd, a folder of WAV/FLAC/OGG files or .npz."
        ),
    ]
    pipeline = Annotated[
        Path,
        typer.Option(
            "--pipeline",
            help="YAML with steps: [{op: rotate, degrees: 15}, …], [{op: random_swap, p: 0.1}, …], [{op: time_warp, sigma: 0.2}, …] or [{op: gain, min_db: -6, max_db: 6}, …].",
        ),
    ]
    output = Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Images: an .npz file, or a folder (a name without suffix) for PNGs in class folders. Texts: .jsonl, .csv or .parquet. Series: .csv or .parquet. Recordings: an .npz file, or a folder for WAV files in class folders.",
        ),
    ]
    copies = Annotated[
        int,
        typer.Option(
            "--copies", min=1, max=1000, help="Augmented copies of every image, text, sequence or recording."
        ),
    ]
    test = Annotated[
        str,
        typer.Option(
            "--test",
            help="Texts: real test texts, to report TRTR with and without the copies (sms brings its own). Series: a real test series, to report the predictive score with and without the copies (stocks and energy bring their own). Recordings: real test recordings (other speakers), to report TRTR with and without the copies (fsdd brings its own).",
        ),
    ]


@app.command(
    epilog="Examples: simulacra augment mnist --pipeline aug.yaml --copies 5 -o out/ · "
    "simulacra augment images/ --pipeline aug.yaml -o augmented.npz · "
    "simulacra augment sms --pipeline text_aug.yaml --copies 3 -o out.jsonl · "
    "simulacra augment stocks --pipeline series_aug.yaml --copies 2 -o stocks_aug.csv · "
    "simulacra augment fsdd --pipeline audio_aug.yaml --copies 2 -o spoken_aug/"
)
def augment(
    source: _Augment.source,
    pipeline: _Augment.pipeline,
    output: _Augment.output,
    copies: _Augment.copies = 1,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    path_column: PathColumn = None,
    image_size: ImageSize = None,
    channels: Channels = None,
    resize: Resize = None,
    sequence_index: SequenceIndex = None,
    sequence_key: SequenceKey = None,
    context_columns: ContextColumns = None,
    parent_table: ParentTable = None,
    test: _Augment.test = None,
    seed: Seed = 0,
    force: Force = False,
) -> None:
    """Write augmented copies of an image set (Kornia: flips, rotations, crops, affine, noise, …), of
    labelled texts (EDA: synonym replacement, random insertion, swap, deletion; keyboard typos) or of a
    series (jittering, scaling, magnitude and time warping, window slicing and warping, permutation) or
    of recordings (audiomentations: gain, shift, noise at an SNR, speed, pitch, time stretch, time and
    frequency masks, mixing)."""
    from simulacra.commands import AugmentRequest
    from simulacra.commands import augment as augment_command

    request = _request(AugmentRequest, locals())
    done = augment_command(request, _STATUS)
    console.print(f"{done.count} augmented {done.unit} → {done.where}")
    if done.effect:
        console.print(done.effect, highlight=False)


class _Run:
    """The options of ``simulacra run``."""

    config = Annotated[Path, typer.Argument(help="YAML config (see simulacra.pipeline).")]


@app.command("run", epilog="Example: simulacra run examples/adult.yaml")
def run_cmd(
    config: _Run.config,
    force: Force = False,
) -> None:
    """Run a YAML config: a list of command steps (steps: [{fit: {…}}, {sample: {…}}, …], any modality),
    or the table pipeline into one run directory (data:, model:, sample:, output:)."""
    from simulacra.commands import is_steps_config, load_steps, run_steps
    from simulacra.commands.support import load_pipeline_config as load_config
    from simulacra.commands.support import read_yaml

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
def _steps_progress():
    """A progress bar for an experiment's steps; yields the ``on_progress(done, total, message)``
    callback the experiments take."""
    with _progress() as progress:
        task = progress.add_task("working", total=None)

        def on_progress(done: int, total: int, message: str) -> None:
            progress.update(task, completed=done, total=total, description=message[:80])

        yield on_progress


def _mix_table(summary, result, source: str, repeats: int, downstream: list[str]) -> None:
    """The headline metric of every variant, mean ± sd, one column per downstream model."""
    from simulacra.commands.support import percent

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


class _Mix:
    """The options of ``simulacra mix``."""

    source = Annotated[
        str,
        typer.Argument(
            help="Training table (bundled name: adult, bank, housing; a file or SQL URL), labelled images (mnist), labelled texts (sms) or labelled recordings (fsdd)."
        ),
    ]
    model = Annotated[
        str,
        typer.Option(
            "--model",
            help=f"Synthesizer(s), comma-separated (default: mixture on tables, cgan on images, textgpt on texts): {_MODELS}.",
        ),
    ]
    target = Annotated[
        str, typer.Option("--target", help="Column to predict (a bundled dataset brings its own).")
    ]
    test = Annotated[str, typer.Option("--test", help="Real test table (a bundled dataset brings its own).")]
    ratios = Annotated[str, typer.Option("--ratios", help="Synthetic rows per real row, 0 … 10.")]
    fractions = Annotated[
        str, typer.Option("--fractions", help="Shares of the real training rows, in (0, 1].")
    ]
    repeats = Annotated[int, typer.Option("--repeats", min=1, max=100, help="Repeats with successive seeds.")]
    balance = Annotated[
        str,
        typer.Option(
            "--balance",
            help="Also compare class balancing of this column: none, random, SMOTE, SMOTE-NC, the models.",
        ),
    ]
    downstream = Annotated[str, typer.Option("--downstream", help="Downstream models: hgb, logreg.")]
    param = Annotated[list[str], typer.Option("--param", help="name=value for the synthesizer (repeatable).")]
    write_best = Annotated[
        str,
        typer.Option(
            "--write-best",
            help="Write the best mixed training set here (tables: a 'synthetic' column marks its rows; images and texts: real first).",
        ),
    ]
    output = Annotated[
        Path, typer.Option("-o", "--output", help="Folder for results.csv, report.html, metrics.json.")
    ]
    workers = Annotated[
        int,
        typer.Option(
            "--workers",
            help="Tables: run every (repeat, fraction) fit and its scores as a Ray task, this many at a time (needs the extra simulacra[ray]); the results are the same.",
        ),
    ]


@app.command(
    epilog="Examples: simulacra mix adult --model copula --target income · simulacra mix bank --balance y "
    "--model mixture,copula · simulacra mix my.csv --test my_test.csv --target label --fractions 0.05,1 "
    "--write-best best.parquet"
)
def mix(
    source: _Mix.source,
    model: _Mix.model = None,
    target: _Mix.target = None,
    test: _Mix.test = None,
    ratios: _Mix.ratios = "0,0.25,0.5,1,2",
    fractions: _Mix.fractions = "0.01,0.05,0.1,1",
    repeats: _Mix.repeats = 3,
    balance: _Mix.balance = None,
    downstream: _Mix.downstream = "hgb,logreg",
    param: _Mix.param = (),
    metadata: MetadataOverrides = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    path_column: PathColumn = None,
    image_size: ImageSize = None,
    channels: Channels = None,
    resize: Resize = None,
    write_best: _Mix.write_best = None,
    seed: Seed = 0,
    output: _Mix.output = None,
    workers: _Mix.workers = None,
    ray_address: RayAddress = None,
    force: Force = False,
) -> None:
    """Does synthetic data help? Mixing curves (real fractions × synthetic ratios) and, with --balance,
    class balancing against SMOTE, all scored on the real test rows."""
    from simulacra.commands import MixRequest
    from simulacra.commands import mix as mix_command
    from simulacra.commands.support import percent

    request = _request(
        MixRequest,
        locals(),
        models=[m.strip() for m in model.split(",") if m.strip()] if model else None,
        fractions=_numbers(fractions, "--fractions"),
        ratios=_numbers(ratios, "--ratios"),
        downstream=[d.strip() for d in downstream.split(",") if d.strip()],
        params=_params(param),
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
            f"{run.result.best_ratio:g} × synthetic, {len(run.best):,} {run.result.unit}; "
            f"{run.best_note}) → {done.best_written}"
        )


class _Tune:
    """The options of ``simulacra tune``."""

    source = Annotated[
        str, typer.Argument(help="Training table: bundled name (adult, bank, housing), file or SQL URL.")
    ]
    model = Annotated[str, typer.Option("--model", help=f"Table synthesizer (default: mixture): {_MODELS}.")]
    target = Annotated[
        str, typer.Option("--target", help="Column TSTR predicts (a bundled dataset brings its own).")
    ]
    test = Annotated[
        str,
        typer.Option(
            "--test",
            help="Real test table, used once to score the refitted best model (a bundled dataset brings its own); never by the search.",
        ),
    ]
    trials = Annotated[int, typer.Option("--trials", help="Trials, the model's defaults (trial 0) included.")]
    space = Annotated[
        list[str],
        typer.Option(
            "--space",
            help="Searched parameter: name=LOW:HIGH, name=LOW:HIGH:log or name=A,B,C (repeatable); replaces or adds to the model's default space.",
        ),
    ]
    param = Annotated[
        list[str],
        typer.Option(
            "--param", help="name=value fixed in every trial, e.g. --param epochs=50 (not searched)."
        ),
    ]
    objective = Annotated[
        str,
        typer.Option(
            "--objective",
            help="What the search maximises on the validation rows: combined (mean of detection and utility), detection (XGBoost C2ST) or utility (TSTR/TRTR).",
        ),
    ]
    validation = Annotated[
        float,
        typer.Option(
            "--validation", help="Share of the training rows held out to score the trials, 0.05 … 0.5."
        ),
    ]
    workers = Annotated[
        int,
        typer.Option(
            "--workers",
            help="Trials at once, as Ray Tune trials sharing this machine's cores (or a cluster's).",
        ),
    ]
    refit = Annotated[
        bool,
        typer.Option(
            "--refit/--no-refit",
            help="Fit the best parameters on all training rows (OUTPUT/model) and score them on the test table.",
        ),
    ]
    output = Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Folder for best_params.json, tune.md, tune.json, trials.csv, model/."
        ),
    ]


@app.command(
    epilog="Examples: simulacra tune adult --model mixture --trials 20 · simulacra tune bank --model ctgan "
    "--param epochs=50 --trials 20 --workers 2 · simulacra tune my.csv --test test.csv --target label "
    "--model tvae --space learning_rate=1e-4:1e-2:log --space embedding_dim=64,128,256"
)
def tune(
    source: _Tune.source,
    model: _Tune.model = None,
    target: _Tune.target = None,
    test: _Tune.test = None,
    trials: _Tune.trials = 20,
    space: _Tune.space = (),
    param: _Tune.param = (),
    objective: _Tune.objective = "combined",
    validation: _Tune.validation = 0.2,
    metadata: MetadataOverrides = None,
    seed: Seed = 0,
    workers: _Tune.workers = 1,
    ray_address: RayAddress = None,
    refit: _Tune.refit = True,
    output: _Tune.output = None,
    force: Force = False,
) -> None:
    """Search a table synthesizer's hyper-parameters: Ray Tune trials proposed by Optuna (TPE), each
    scored on a validation split by detection and TSTR; writes the best parameters and a report."""
    from simulacra.commands import TuneRequest
    from simulacra.commands import tune as tune_command
    from simulacra.commands.support import fit_command

    request = _request(TuneRequest, locals(), space=_pairs(space, "--space"), params=_params(param))
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


class _Bench:
    """The options of ``simulacra bench``."""

    models = Annotated[
        str,
        typer.Option(
            "--models",
            help="Comma-separated registry names (default mixture,diffusion,copula,ctgan,tvae; on images all four; on texts textgpt; on recordings specgan,specvae).",
        ),
    ]
    data = Annotated[
        str,
        typer.Option(
            "--data",
            help="Training data: bundled name (adult, bank, housing, mnist, sms, fsdd, …), file, folder or SQL URL.",
        ),
    ]
    test = Annotated[str, typer.Option("--test", help="Real test table (a bundled dataset brings its own).")]
    target = Annotated[
        str, typer.Option("--target", help="Column for TSTR/TRTR (a bundled dataset brings its own).")
    ]
    param = Annotated[
        list[str],
        typer.Option(
            "--param", help="name=value for every model taking it, or model.name=value (repeatable)."
        ),
    ]
    rows = Annotated[int, typer.Option("--rows", min=1, max=100000000, help="Rows sampled to time sampling.")]
    repeats = Annotated[
        int,
        typer.Option(
            "--repeats",
            min=1,
            max=100,
            help="Runs per model with successive seeds; the table shows mean ± sd.",
        ),
    ]
    temperatures = Annotated[
        str,
        typer.Option(
            "--temperatures",
            help="Also sample each model that has a temperature at these (e.g. 0.5,0.75,1,1.25,1.5): precision/recall (audio: also label agreement, TSTR, FAD) in bench.md and tradeoff.png. Tables, images and audio.",
        ),
    ]
    privacy = Annotated[
        bool,
        typer.Option(
            "--privacy/--no-privacy",
            help="Tables: run the privacy attacks (membership inference, singling out, linkability, inference) on every model and reference row; ≈ 20 s each on Adult.",
        ),
    ]
    workers = Annotated[
        int,
        typer.Option(
            "--workers",
            help="Run the models (and repeats) as Ray tasks, this many at a time, one CPU each (needs the extra simulacra[ray]); quality is unchanged, times are per core.",
        ),
    ]
    output = Annotated[Path, typer.Option("-o", "--output", help="Directory for bench.json and bench.md.")]


@app.command(
    epilog="Examples: simulacra bench · simulacra bench --models ctgan,tvae --param epochs=50 · "
    "simulacra bench --data my.csv --target label --models copula,tvae --param tvae.epochs=100 · "
    "simulacra bench --data mnist --models cgan,cvae · simulacra bench --models ctgan --repeats 3 · "
    "simulacra bench --data sms · simulacra bench --data fsdd --models specgan,specvae"
)
def bench(
    models: _Bench.models = None,
    data: _Bench.data = "adult",
    test: _Bench.test = None,
    target: _Bench.target = None,
    param: _Bench.param = (),
    rows: _Bench.rows = 100_000,
    seed: Seed = 0,
    repeats: _Bench.repeats = 1,
    temperatures: _Bench.temperatures = None,
    privacy: _Bench.privacy = True,
    workers: _Bench.workers = None,
    ray_address: RayAddress = None,
    output: _Bench.output = None,
    force: Force = False,
) -> None:
    """Fit, sample and evaluate several models on one table (each in a fresh process) and tabulate fit
    seconds, sample rows/s, peak memory, quality and, for tables, the privacy attacks."""
    from simulacra.commands import BenchRequest, of_source
    from simulacra.commands import bench as bench_command
    from simulacra.commands.support import cells, columns, table_rows

    request = _request(
        BenchRequest,
        locals(),
        models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
        params=_params(param),
        temperatures=_numbers(temperatures, "--temperatures") if temperatures else None,
    )
    cols = columns(of_source(data).name)

    def show(result: dict[str, Any]) -> None:
        console.print(
            "  ".join(
                f"{title} {cell}" for (_, title, _), cell in zip(cols, cells(result, cols), strict=True)
            )
        )

    done = bench_command(request, on_result=show)
    results, output = done.results, done.output
    rows_shown = table_rows(results)
    shown = [c for c in cols if c[0] == "model" or any(r.get(c[0]) is not None for r in rows_shown)]
    table = Table(title=f"simulacra bench on {redact_url(data)}")
    for _, title, _ in shown:
        table.add_column(title, justify="left" if title == "model" else "right")
    for row in rows_shown:
        table.add_row(*cells(row, shown))
    Console(width=max(console.width, 230), markup=False).print(
        table
    )  # never truncate numbers, even in a narrow log
    console.print(f"written: {output / 'bench.md'}, {output / 'bench.json'}")
    if done.reports:
        console.print(f"reports: {', '.join(map(str, done.reports))}")


@app.command("datasets", epilog="Example: simulacra datasets")
def list_datasets() -> None:
    """List the bundled datasets."""
    from simulacra.commands.support import datasets

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


#: request fields set by an option or argument of another name (``--param`` gives ``params``)
_FIELD_OPTIONS = {
    "params": "param",
    "conditions": "condition",
    "split": "split_method",
    "fractions": "parts",
    "models": "model",
    "model": "model_dir",
}


@functools.cache
def _click_app() -> Any:
    """The Click command Typer builds from :data:`app` (built once: its options do not change)."""
    import typer.main

    return typer.main.get_command(app)


def _option_of(argv: list[str] | None):
    """How the command in ``argv`` shows a parameter that a library error names (``class_counts`` →
    ``--class-counts``, ``rows`` → ``-n/--rows``, an argument by its metavar); ``None`` (the bare
    name) for a name the command has no option for: so ``run`` shows its own ``--force`` and a
    config's fields as the YAML keys they are."""
    args = sys.argv[1:] if argv is None else list(argv)
    name = next((a for a in args if not a.startswith("-")), None)
    command = getattr(_click_app(), "commands", {}).get(name)
    shown: dict[str, str] = {}
    for p in command.params if command is not None else []:  # Click's options and arguments
        if p.name:
            option = p.param_type_name == "option"
            shown[p.name] = "/".join(p.opts) if option else (p.metavar or p.name.upper())
    return lambda field: shown.get(field) or shown.get(_FIELD_OPTIONS.get(field, ""))


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
        _error(exc.render(_option_of(argv)))
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
