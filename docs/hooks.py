"""MkDocs hooks: the pages' generated parts, so that no number and no option is typed twice.

* ``<!-- bench-results -->`` becomes every ``simulacra bench`` output under ``benchmarks/results`` (its
  ``bench.json``: the machine, the command's settings and the table, rendered by
  :func:`simulacra.bench.markdown`, the function that wrote ``bench.md``).
* ``<!-- bench-row FOLDER | MODEL | LABEL -->`` becomes one Markdown table row of that output (``MODEL``
  as its table names it, ``reference: real holdout`` included): the label, then fit seconds, shapes,
  trends, XGBoost detection, TSTR (and TRTR) and the DCR share.
* ``<!-- result-file NAME -->`` becomes ``benchmarks/results/NAME`` (a Markdown table a benchmark script
  wrote, such as ``columns_scaling.md``), its first heading dropped.
* ``<!-- cli-reference -->`` becomes every command's options, read from the Typer application.
* ``<!-- model-parameters -->`` becomes every registered model's hyper-parameters, read from their
  declarations (:class:`simulacra.synthesizers.hyper.Hyper`): default, allowed values, tune range, meaning.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ROW_KEYS = ("fit_s", "column_shapes", "column_pair_trends", "detection_xgb")


def _outputs() -> list[tuple[str, dict[str, Any]]]:
    """``(name, bench.json)`` of every bench output: ``NAME/bench.json`` folders and ``NAME.json`` files."""
    found = []
    for path in sorted(RESULTS.glob("*/bench.json")) + sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "info" in data and "results" in data:
            found.append((path.parent.name if path.name == "bench.json" else path.stem, data))
    return found


def _row(folder: str, model: str, label: str) -> str:
    from simulacra.bench import cells, columns, table_rows

    path = RESULTS / folder / "bench.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no bench output; write it with simulacra bench -o {path.parent}")
    data = json.loads(path.read_text(encoding="utf-8"))
    found = [r for r in table_rows(data["results"]) if r["model"] == model]
    if not found:
        raise KeyError(f"{path} has no row {model!r}")
    result = found[0]
    cols = {key: (key, title, fmt) for key, title, fmt in columns("table")}
    values = cells(result, [cols[k] for k in ROW_KEYS])
    tstr = "tstr_roc_auc" if "tstr_roc_auc" in result else "tstr_r2"
    trtr = tstr.replace("tstr", "trtr")
    if tstr in result:
        values.append(f"{cells(result, [cols[tstr]])[0]} ({cells(result, [cols[trtr]])[0]})")
    values += cells(result, [cols["dcr_share"]])
    return "| " + " | ".join([label, *values]) + " |"


def _results() -> str:
    from simulacra.bench import markdown

    parts = []
    for name, data in _outputs():
        info = data["info"]
        shown = {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in info.items()}
        settings = " ".join(
            f"--{k} {shown[k]}" for k in ("data", "models", "repeats", "rows", "seed") if k in shown
        )
        where = ", ".join(
            str(info[k]) for k in ("date", "simulacra_version", "python", "machine") if info.get(k)
        )
        parts.append(
            f"## {name}\n\n`simulacra bench {settings}` on {info.get('cpus', '?')} CPU cores ({where}).\n\n"
            + markdown(data["results"])
        )
    return "\n".join(parts)


def _result_file(name: str) -> str:
    text = (RESULTS / name).read_text(encoding="utf-8")
    return re.sub(r"\A# .*\n+", "", text)


def _cli_reference() -> str:
    import click
    import typer

    from simulacra.cli import app

    group = typer.main.get_command(app)
    parts = []
    with click.Context(group) as ctx:
        for name in sorted(group.list_commands(ctx)):
            command = group.get_command(ctx, name)
            first = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
            lines = [f"## `simulacra {name}`", "", first, ""]
            lines += ["| argument or option | default | help |", "|---|---|---|"]
            for param in command.params:
                if param.name == "help":
                    continue
                flag = (
                    ", ".join(f"`{o}`" for o in param.opts)
                    if param.opts[0].startswith("-")
                    else f"`{param.name.upper()}`"
                )
                default = (
                    "" if param.default in (None, (), []) or callable(param.default) else f"`{param.default}`"
                )
                text = (getattr(param, "help", None) or "").replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {flag} | {default} | {text} |")
            parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _model_parameters() -> str:
    from simulacra.synthesizers import available, model_class

    parts = []
    for name in available():
        cls = model_class(name)
        lines = [
            f"### `{name}`",
            "",
            "| parameter | default | allowed | tune range | meaning |",
            "|---|---|---|---|---|",
        ]
        for key, h in cls.hyper_parameters.items():
            space = f"`{h.space}`" if h.space else ""
            doc = h.doc.replace("|", "\\|")
            lines.append(f"| `{key}` | `{h.default!r}` | {h.check.allowed} | {space} | {doc} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Fill the generated parts of a page (see the module docstring)."""
    if "<!-- bench-results -->" in markdown:
        markdown = markdown.replace("<!-- bench-results -->", _results())
    if "<!-- cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- cli-reference -->", _cli_reference())
    if "<!-- model-parameters -->" in markdown:
        markdown = markdown.replace("<!-- model-parameters -->", _model_parameters())
    markdown = re.sub(r"<!-- result-file (\S+) -->", lambda m: _result_file(m.group(1)), markdown)
    return re.sub(
        r"<!-- bench-row (.+?) \| (.+?) \| (.+?) -->",
        lambda m: _row(m.group(1), m.group(2), m.group(3)),
        markdown,
    )
