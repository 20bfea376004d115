"""Command line: Click commands only; the work happens in api, rules, knowledge and report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from trainlog_doctor import __version__
from trainlog_doctor.config import MAX_WORKERS
from trainlog_doctor.report.ci_guard import CommandGuard, defuse_legacy_commands, guarded_streams
from trainlog_doctor.report.files import replace_text
from trainlog_doctor.report.formats import format_for_extension, format_names, get_format, render
from trainlog_doctor.report.text import terminal_line
from trainlog_doctor.stops import OutputFailure, StoppableGroup

FAIL_ON = ("error", "warning", "never")
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _split_codes(values: tuple[str, ...] | list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


class SafeUsageError(click.UsageError):
    """A usage error whose message may hold paths or names from the input: printed as one safe line."""

    def __init__(self, message: str) -> None:
        super().__init__(terminal_line(message))


def warn(message: str) -> None:
    """A warning on stderr, one safe line (names from the input never reach the terminal or CI raw)."""
    click.echo(f"trainlog-doctor: warning: {terminal_line(message)}", err=True)


def ensure_outside_inputs(output: Path, inputs: list[str]) -> None:
    """Refuse to write into a directory the tool reads, or over an input file under any of its names
    (the tool never changes its inputs; the report is also written by rename, never in place)."""
    out = output.resolve()
    for raw in inputs:
        src = Path(raw).resolve()
        same_file = False
        try:
            same_file = src.is_file() and output.exists() and output.samefile(src)  # also a hard link
        except OSError:
            pass
        if out == src or same_file or (src.is_dir() and out.is_relative_to(src)):
            raise SafeUsageError(f"refusing to write {output} over or inside the input {raw}; choose an --output elsewhere")


def exit_code(report, fail_on: str) -> int:  # type: ignore[no-untyped-def]
    """0: nothing at or above ``fail_on``; 1: findings at or above it; 2: nothing readable."""
    if not report.runs or all(r.status == "error" for r in report.runs):
        return EXIT_USAGE
    if fail_on == "never":
        return EXIT_OK
    from trainlog_doctor.model.report import SEVERITY_RANK

    worst = report.max_severity()
    if worst is not None and SEVERITY_RANK[worst] >= SEVERITY_RANK[fail_on]:
        return EXIT_FINDINGS
    return EXIT_OK


def _config() -> dict:  # type: ignore[type-arg]
    from trainlog_doctor.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        raise SafeUsageError(str(exc)) from exc


@click.group(cls=StoppableGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage error or nothing "
                    "readable; 3 an output file could not be written (disk full, read-only, permission); "
                    "130/143 stopped by Ctrl-C/SIGTERM.")
@click.version_option(__version__, prog_name="trainlog-doctor")
def main() -> None:
    """Diagnose finished deep-learning training runs from the logs they left behind."""
    _tolerant_streams()


def _tolerant_streams() -> None:
    """Characters the terminal's encoding lacks (a cp1252 or latin-1 console) print as escapes, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower().replace("-", "") != "utf8":
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a detached or closed stream: leave it
                pass


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(format_names()), default=None,
              help="Report format (default: from the --output extension, else text).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of standard output ('-': standard output).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when a finding at or above this severity exists (default: error).")
@click.option("--select", multiple=True, help="Only these rule codes or kinds (comma-separated, prefixes allowed).")
@click.option("--ignore", multiple=True, help="Skip these rule codes or kinds (comma-separated, prefixes allowed).")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=None, help="Parallel processes (default 1).")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Seconds one run may take before it is listed as an error (default: no limit).")
@click.option("--follow-links", is_flag=True, help="Read symlinks that lead out of a directory tree (default: skip them).")
def analyze(paths: tuple[str, ...], fmt: str | None, output: Path | None, fail_on: str | None,
            select: tuple[str, ...], ignore: tuple[str, ...], workers: int | None, timeout: float | None,
            follow_links: bool) -> None:
    """Diagnose the runs in PATH... (log files or directory trees). Exit codes: see --help of the group."""
    from trainlog_doctor.api import analyze as run_analyze


    cfg = _config()
    if output is not None and str(output) == "-":
        output = None
    fmt = fmt or (format_for_extension(output.suffix) if output else None) or cfg.get("format") or "text"
    if fmt not in format_names():
        raise SafeUsageError(f"unknown format {fmt!r} in config")
    fail_on = fail_on or cfg.get("fail_on") or "error"
    if fail_on not in FAIL_ON:
        raise SafeUsageError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    if output is not None:
        ensure_outside_inputs(output, list(paths))
    # under GITHUB_ACTIONS=true nothing printed from a log can act as a workflow command
    guard = CommandGuard(guarded_streams(fmt if output is None else None))
    guard.stop()
    click.get_current_context().call_on_close(guard.resume)
    notes: list[str] = []
    report = run_analyze(
        list(paths),
        select=_split_codes(select) or cfg.get("select"),
        ignore=_split_codes(ignore) or cfg.get("ignore"),
        workers=workers or int(cfg.get("workers", 1)),
        keep_frames=get_format(fmt).needs_view,
        warnings=notes,
        timeout=timeout,
        follow_links=follow_links,
    )
    for note in notes:
        warn(note)
    text = defuse_legacy_commands(render(report, fmt), fmt)
    if output is None:
        if fmt == "github":
            guard.resume()  # the annotations are for the runner
        try:
            click.echo(text, nl=False)
            sys.stdout.flush()
        except OSError as exc:
            raise OutputFailure(terminal_line(f"cannot write the report to standard output: {exc.strerror or exc}")) from exc
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            replace_text(output, text, errors="backslashreplace")
        except OSError as exc:
            raise OutputFailure(terminal_line(f"cannot write {output}: {exc.strerror or exc}")) from exc
        click.echo(terminal_line(f"wrote {output} ({len(report.runs)} run(s))"), err=True)
    if not report.runs:
        click.echo(terminal_line("trainlog-doctor: no training logs found in " + ", ".join(paths)), err=True)
    sys.exit(exit_code(report, fail_on))


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("trainlog-audit"),
              show_default=True, help="Directory for index.html, runs/*.html and summary.json.")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=None, help="Parallel processes (default: all cores).")
@click.option("--since", default=None, help="Only runs modified since an ISO date or a duration (7d, 12h).")
@click.option("--no-cache", is_flag=True, help="Re-analyze runs even when their files did not change.")
@click.option("--select", multiple=True, help="Only these rule codes or kinds.")
@click.option("--ignore", multiple=True, help="Skip these rule codes or kinds.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Seconds one run may take before it is listed as an error (default 600; 0: no limit).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="never", show_default=True)
@click.option("--follow-links", is_flag=True, help="Read symlinks that lead out of ROOT (default: skip them).")
def audit(root: Path, out_dir: Path, workers: int | None, since: str | None, no_cache: bool,
          select: tuple[str, ...], ignore: tuple[str, ...], timeout: float | None, fail_on: str, follow_links: bool) -> None:
    """Audit every run under ROOT in parallel into an output directory with an index page."""
    from trainlog_doctor.audit import DEFAULT_RUN_TIMEOUT, AuditError, OutputWriteError, parse_since, run_audit, stderr_is_tty
    from trainlog_doctor.model.report import SEVERITY_RANK

    guard = CommandGuard(guarded_streams(None))
    guard.stop()
    click.get_current_context().call_on_close(guard.resume)

    cfg = _config()
    ensure_outside_inputs(out_dir, [str(root)])
    try:
        since_ts = parse_since(since) if since else None
    except ValueError as exc:
        raise SafeUsageError(str(exc)) from exc
    bar = None
    progress = None
    if stderr_is_tty():
        bar = click.progressbar(length=1, label="auditing", file=sys.stderr, show_pos=True)

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

    options = {"select": _split_codes(select) or cfg.get("select"), "ignore": _split_codes(ignore) or cfg.get("ignore")}
    try:
        result = run_audit(root, out_dir, workers=workers or cfg.get("workers"), since=since_ts,
                           use_cache=not no_cache, options=options, progress=progress,
                           timeout=DEFAULT_RUN_TIMEOUT if timeout is None else timeout, follow_links=follow_links)
    except OutputWriteError as exc:
        raise OutputFailure(terminal_line(str(exc))) from exc
    except AuditError as exc:
        raise SafeUsageError(str(exc)) from exc
    finally:
        if bar is not None:
            bar.render_finish()
    for note in result.warnings:
        warn(note)
    runs = [e.run for e in result.entries]
    n_err = sum(r["status"] == "error" for r in runs)
    click.echo(
        f"audited {len(runs)} run(s) in {result.seconds:.1f} s ({result.analyzed} analyzed, {result.cached} from cache, "
        f"{n_err} unreadable): {terminal_line(out_dir / 'index.html')}",
        err=True,
    )
    if result.write_failures:
        raise OutputFailure(terminal_line(f"{result.write_failures} page(s) or report(s) could not be written into {out_dir}"))
    if not runs or n_err == len(runs):
        sys.exit(EXIT_USAGE)
    if fail_on != "never":
        worst = max((SEVERITY_RANK[f["severity"]] for r in runs for f in r["findings"]), default=-1)
        sys.exit(EXIT_FINDINGS if worst >= SEVERITY_RANK[fail_on] else EXIT_OK)


@main.command("rules")
def rules_cmd() -> None:
    """List every rule: code, kind, default severity and name."""
    from trainlog_doctor.rules import RULES

    for rule in RULES:
        click.echo(f"{rule.code}  {rule.kind:<12} {rule.severity:<8} {rule.name:<24} {rule.summary()}")


@main.command("rule")
@click.argument("code")
def rule_cmd(code: str) -> None:
    """Show one rule's documentation, its candidate causes and their fixes."""
    from trainlog_doctor.knowledge import causes_for_kind, fix
    from trainlog_doctor.rules import get_rule

    try:
        rule = get_rule(code.upper())
    except KeyError:
        raise SafeUsageError(f"unknown rule {code!r}; see `trainlog-doctor rules`") from None
    click.echo(f"{rule.code}: {rule.name}  (kind: {rule.kind}, default severity: {rule.severity})\n")
    click.echo(rule.doc())
    params = rule.default_params()
    if params:
        click.echo("\nParameters:")
        for name, value in params.items():
            click.echo(f"  {name} = {value!r}")
    click.echo("\nLikely causes:")
    for cause in causes_for_kind(rule.kind):
        click.echo(f"  - {cause.title}: {cause.text} [{', '.join(cause.sources)}]")
        for fid in cause.fixes:
            f = fix(fid)
            click.echo(f"      fix: {f.title}: {f.text} [{', '.join(f.sources)}]")


if __name__ == "__main__":  # pragma: no cover
    main()
