"""Command line: Click commands only; the work happens in api, rules, knowledge and report."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from trainlog_doctor import __version__
from trainlog_doctor.config import FAIL_ON, MAX_WORKERS
from trainlog_doctor.report.ci_guard import CommandGuard, defuse_legacy_commands, guarded_streams
from trainlog_doctor.report.files import replace_text
from trainlog_doctor.report.formats import format_for_extension, format_names, get_format, render
from trainlog_doctor.report.text import terminal_line
from trainlog_doctor.stops import OutputFailure, StoppableGroup

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

#: Where ``--format html`` goes when no ``--output`` is given and standard output is a terminal.
TERMINAL_HTML = Path("report.html")


def _split_codes(values: tuple[str, ...] | list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


def selection(select: tuple[str, ...], ignore: tuple[str, ...], cfg: dict) -> dict[str, list[str] | None]:  # type: ignore[type-arg]
    """``--select``/``--ignore`` (else the config's), checked before anything is read: a selector that
    names no rule is a usage error with the closest codes suggested."""
    from trainlog_doctor.api import SelectorError, check_selectors

    chosen = {"select": _split_codes(select) or cfg.get("select"), "ignore": _split_codes(ignore) or cfg.get("ignore")}
    try:
        check_selectors(chosen["select"], chosen["ignore"])
    except SelectorError as exc:
        raise SafeUsageError(f"--{exc}") from None
    return chosen


def check_paths_exist(paths: tuple[str, ...] | list[str]) -> None:
    """A path that does not exist is a usage error (a typo), not an unreadable run; the closest
    name in its folder is suggested. A dangling symlink exists (it is listed as unreadable)."""
    for raw in paths:
        if os.path.lexists(raw):
            continue
        path = Path(raw)
        try:
            siblings = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
        except OSError:
            siblings = []
        import difflib

        close = difflib.get_close_matches(path.name, siblings, n=1)
        hint = f" (did you mean {path.parent / close[0]}?)" if close else ""
        raise SafeUsageError(f"{raw}: no such file or directory{hint}")


def use_color(stream: object) -> bool:
    """Colour for ``stream``: never with ``NO_COLOR`` set (or ``TERM=dumb``), always with ``FORCE_COLOR``
    set, else only on a terminal (https://no-color.org; the same order as Python 3.13's own)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def is_terminal(stream: object) -> bool:
    """True when ``stream`` is a terminal (False for pipes, files, closed or detached streams)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


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
              help="Report format (default: from the --output extension, else text; concise: one line per finding).")
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
    """Diagnose the runs in PATH... (log files or directory trees).

    Exit status: 0 when no finding is at or above --fail-on (default: error), 1 when one is, 2 on a
    usage error or when nothing could be read, 3 when the report could not be written. --format html
    with no --output on a terminal writes report.html in the current directory (and says so) instead
    of printing the page. Text and concise output are coloured on a terminal (NO_COLOR: never,
    FORCE_COLOR: always; never in files).
    """
    from trainlog_doctor.api import analyze as run_analyze


    cfg = _config()
    check_paths_exist(paths)
    to_stdout = output is not None and str(output) == "-"  # asked for explicitly: even HTML on a terminal
    if to_stdout:
        output = None
    fmt = fmt or (format_for_extension(output.suffix) if output else None) or cfg.get("format") or "text"
    fail_on = fail_on or cfg.get("fail_on") or "error"
    chosen = selection(select, ignore, cfg)
    if output is None and not to_stdout:
        output = default_output(fmt)
    if output is not None:
        ensure_outside_inputs(output, list(paths))
    # under GITHUB_ACTIONS=true nothing printed from a log can act as a workflow command
    guard = CommandGuard(guarded_streams(fmt if output is None else None))
    guard.stop()
    click.get_current_context().call_on_close(guard.resume)
    notes: list[str] = []
    report = run_analyze(
        list(paths),
        select=chosen["select"],
        ignore=chosen["ignore"],
        workers=workers or int(cfg.get("workers", 1)),
        keep_frames=get_format(fmt).needs_view,
        warnings=notes,
        timeout=timeout,
        follow_links=follow_links,
    )
    for note in notes:
        warn(note)
    if output is None:
        if fmt == "github":
            guard.resume()  # the annotations are for the runner
        color = use_color(sys.stdout)
        text = defuse_legacy_commands(render(report, fmt, color=color), fmt)
        try:
            click.echo(text, nl=False, color=color)
            sys.stdout.flush()
        except OSError as exc:
            raise OutputFailure(terminal_line(f"cannot write the report to standard output: {exc.strerror or exc}")) from exc
    else:
        write_report(output, defuse_legacy_commands(render(report, fmt), fmt), len(report.runs))
    if not report.runs:
        click.echo(terminal_line("trainlog-doctor: no training logs found in " + ", ".join(paths)), err=True)
    sys.exit(exit_code(report, fail_on))


def default_output(fmt: str) -> Path | None:
    """Where a report goes without ``--output``: ``report.html`` for HTML when standard output is a
    terminal (a page is no use printed there), else standard output (None)."""
    if fmt == "html" and is_terminal(sys.stdout):
        return TERMINAL_HTML
    return None


def write_report(output: Path, text: str, n_runs: int) -> None:
    """Write the report by rename and say where on stderr (with a file URL for a page to open)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        replace_text(output, text, errors="backslashreplace")
    except OSError as exc:
        raise OutputFailure(terminal_line(f"cannot write {output}: {exc.strerror or exc}")) from exc
    where = f"{output}; open {output.resolve().as_uri()} in a browser" if output.suffix.lower() in (".html", ".htm") else output
    click.echo(terminal_line(f"wrote {where} ({n_runs} run(s))"), err=True)


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
    """Audit every run under ROOT in parallel into an output directory with an index page.

    Exit status: 0 (also when --since finds nothing new), 1 with a finding at or above --fail-on
    (default: never), 2 on a usage error, when no run could be read or when another audit writes into
    the same output, 3 when pages or the index could not be written.
    """
    from trainlog_doctor.audit import DEFAULT_RUN_TIMEOUT, AuditError, OutputWriteError, parse_since, run_audit, stderr_is_tty

    guard = CommandGuard(guarded_streams(None))
    guard.stop()
    click.get_current_context().call_on_close(guard.resume)

    cfg = _config()
    ensure_outside_inputs(out_dir, [str(root)])
    try:
        since_ts = parse_since(since) if since else None
    except ValueError as exc:
        raise SafeUsageError(str(exc)) from exc
    options = selection(select, ignore, cfg)
    bar = ProgressBar() if stderr_is_tty() else None
    try:
        result = run_audit(root, out_dir, workers=workers or cfg.get("workers"), since=since_ts,
                           use_cache=not no_cache, options=options, progress=bar.update if bar else None,
                           timeout=DEFAULT_RUN_TIMEOUT if timeout is None else timeout, follow_links=follow_links)
    except OutputWriteError as exc:
        raise OutputFailure(terminal_line(str(exc))) from exc
    except AuditError as exc:
        raise SafeUsageError(str(exc)) from exc
    finally:
        if bar is not None:
            bar.finish()
    for note in result.warnings:
        warn(note)
    runs = [e.run for e in result.entries]
    if not runs and since is not None:
        click.echo(terminal_line(f"nothing new under {root} since {since}: no run was audited"), err=True)
        sys.exit(EXIT_OK)
    for line in audit_summary(runs, result, out_dir):
        click.echo(line, err=True)
    if result.write_failures:
        raise OutputFailure(terminal_line(f"{result.write_failures} page(s) or report(s) could not be written into {out_dir}"))
    sys.exit(audit_exit_code(runs, fail_on))


class ProgressBar:
    """The audit's progress bar on stderr: logs done of all, and the runs found in them so far."""

    def __init__(self) -> None:
        self.runs = 0
        self.bar = click.progressbar(length=1, label="auditing logs", file=sys.stderr, show_pos=True,
                                     item_show_func=lambda _: f"{self.runs} run(s)")

    def update(self, done: int, total: int, runs: int) -> None:
        self.runs = runs
        self.bar.length = max(total, 1)
        self.bar.update(done - self.bar.pos, current_item=runs)

    def finish(self) -> None:
        self.bar.render_finish()


def audit_summary(runs: list[dict], result, out_dir: Path) -> list[str]:  # type: ignore[type-arg,no-untyped-def]
    """The closing lines of an audit: findings by code (most severe first), then one line with the runs
    (counted as the index page counts them: read fine, and unreadable or empty), time and where."""
    from trainlog_doctor.model.report import SEVERITY_RANK

    by_code: dict[tuple[str, str, str], list[int]] = {}
    for i, run in enumerate(runs):
        for f in run["findings"]:
            by_code.setdefault((f["code"], f["kind"], f["severity"]), []).append(i)
    lines = []
    if by_code:
        sev = {s: sum(len(v) for k, v in by_code.items() if k[2] == s) for s in ("error", "warning", "info")}
        n_with = len({i for v in by_code.values() for i in v})
        counts = f"{sev['error']} error(s), {sev['warning']} warning(s), {sev['info']} info"
        lines.append(f"findings: {counts} in {n_with} of {len(runs)} run(s)")
        order = sorted(by_code.items(), key=lambda kv: (-SEVERITY_RANK[kv[0][2]], -len(kv[1]), kv[0][0]))
        for (code, kind, severity), idx in order:
            lines.append(f"  {code}  {kind:<12} {severity:<8} {len(idx):>4} finding(s) in {len(set(idx))} run(s)")
    else:
        lines.append(f"findings: none in {len(runs)} run(s)")
    unreadable = sum(r["status"] in ("error", "empty") for r in runs)
    lines.append(
        f"audited {len(runs)} run(s) from {result.analyzed + result.cached} log(s) in {result.seconds:.1f} s "
        f"({result.analyzed} analyzed, {result.cached} from cache): {len(runs) - unreadable} read fine, "
        f"{unreadable} unreadable or empty; index: {terminal_line(out_dir / 'index.html')}"
    )
    return lines


def audit_exit_code(runs: list[dict], fail_on: str) -> int:  # type: ignore[type-arg]
    """2 when no run could be read; else 1 when a finding is at or above ``fail_on``, 0 otherwise."""
    from trainlog_doctor.model.report import SEVERITY_RANK

    if not runs or all(r["status"] == "error" for r in runs):
        return EXIT_USAGE
    if fail_on == "never":
        return EXIT_OK
    worst = max((SEVERITY_RANK[f["severity"]] for r in runs for f in r["findings"]), default=-1)
    return EXIT_FINDINGS if worst >= SEVERITY_RANK[fail_on] else EXIT_OK


@main.command("rules")
def rules_cmd() -> None:
    """List every rule: code, kind, default severity and name."""
    import json

    # The table generated from the rule classes by scripts/gen_docs.py (kept current by a test): listing
    # it needs no numpy or polars.
    rows = json.loads((Path(__file__).parent / "rules" / "catalogue.json").read_text(encoding="utf-8"))
    for r in rows:
        click.echo(f"{r['code']}  {r['kind']:<12} {r['severity']:<8} {r['name']:<24} {r['summary']}")


@main.command("rule")
@click.argument("code")
def rule_cmd(code: str) -> None:
    """Show one rule's documentation, its candidate causes and their fixes."""
    from trainlog_doctor.api import suggest_rules
    from trainlog_doctor.knowledge import causes_for_kind, fix
    from trainlog_doctor.rules import RULES, get_rule

    try:
        rule = get_rule(code.upper())
    except KeyError:
        raise SafeUsageError(f"unknown rule {code!r}; {suggest_rules(code, [r.code for r in RULES], selectors=False)}") from None
    click.echo(f"{rule.code}: {rule.name}  (kind: {rule.kind}, default severity: {rule.severity})\n")
    click.echo(rule.doc())
    params = rule.default_params()
    if params:
        click.echo("\nParameters:")
        for name, value in params.items():
            click.echo(f"  {name} = {value!r}")
    click.echo("\nLikely causes:")
    for cause in causes_for_kind(rule.kind):
        click.echo(f"  - {cause.title}: {cause.text} [{'; '.join(cause.titles)}]")
        for fid in cause.fixes:
            f = fix(fid)
            click.echo(f"      fix: {f.title}: {f.text} [{'; '.join(f.titles)}]")


if __name__ == "__main__":  # pragma: no cover
    main()
