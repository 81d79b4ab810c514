"""The `ppe-tech` command line: global options, command groups, error handling.

Expected errors print one line and exit with the contract's code (2 bad input, 3
environment); anything unexpected is an internal error: one line, exit 3, and the
traceback with `--debug`. Ctrl-C exits 130.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import click

from ppe_tech.app import resolve_app
from ppe_tech.errors import ConfigError, ExitCode, PpeError
from ppe_tech.clicktr import TrGroup
from ppe_tech.messages import LANGUAGES, _, language_scope
from ppe_tech.secrets import mask_url
from ppe_tech.streams import setup_standard_streams

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command name -> "module:attribute"; a command's module is imported only when it runs
COMMANDS = {
    "init": "ppe_tech.commands.init:init",
    "keys": "ppe_tech.commands.keys:keys",
    "journal": "ppe_tech.commands.journal:journal",
    "cameras": "ppe_tech.commands.camera_control:cameras",  # the group, with recording and ONVIF commands added
    "recorder": "ppe_tech.commands.recording:recorder_group",
    "recordings": "ppe_tech.commands.recording:recordings",
    "archive": "ppe_tech.commands.archive:archive",
    "check": "ppe_tech.commands.check:check",
    "exam": "ppe_tech.commands.exam:exam",
    "schedule": "ppe_tech.commands.schedule:schedule",
    "region": "ppe_tech.commands.region:region",
    "demo": "ppe_tech.commands.demo:demo",
}


class LazyGroup(TrGroup):
    """Imports a command's module when that command is used, so every command starts fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        import importlib

        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        command.name = name
        return command


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from ppe_tech.buildinfo import describe

    click.echo(f"ppe-tech {describe()}")
    ctx.exit()


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), envvar="PPE_TECH_CONFIG",
              help=_("Configuration file [env PPE_TECH_CONFIG; default ./ppe-tech.toml, else the user's config dir]."))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PPE_TECH_DATA",
              help=_("Where the journal, keys, recordings and state live [env PPE_TECH_DATA]."))
@click.option("--rehearsal", is_flag=True, envvar="PPE_TECH_REHEARSAL",
              help=_("Rehearse: a throwaway data dir beside the real one, the real config and cameras; "
                     "nothing goes into the real journal; documents say «РЕПЕТИЦИЯ» [env PPE_TECH_REHEARSAL]."))
@click.option("--debug", is_flag=True, help=_("Show the traceback of an internal error."))
@click.option("--lang", type=click.Choice(LANGUAGES), expose_value=False, is_eager=True,
              help=_("Language of messages and help [env PPE_TECH_LANG; default: the locale's]."))
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help=_("Show the version and the commit it was built from, and exit."))
@click.pass_context
def cli(ctx: click.Context, config: Path | None, data_dir: Path | None, rehearsal: bool, debug: bool) -> None:
    """ppe-tech: the technical specialist's toolkit for an exam point (ППЭ).

    \b
    Exam day, in order (ppe-tech exam plan shows it with what is done):
     the day before:
      ppe-tech init                      write a commented ppe-tech.toml, then fill it in
      ppe-tech keys create ...           a signing key for each person (and --station)
      ppe-tech cameras discover --write  find the ONVIF cameras, add them to the config
      ppe-tech cameras edit ID --room R  name each camera: id, location, room
      ppe-tech cameras clock --set       set the cameras' clocks (journalled)
      ppe-tech check run --pdf F         the readiness check and its protocol
      ppe-tech schedule sync             the day's jobs: pre-check, recording, push
     the day itself:
      ppe-tech check run --exam ID       the pre-exam check, two hours before the start
      ppe-tech cameras start             recording, one hour before (journalled)
      ppe-tech exam status               recording, last check, journal, disk
      ppe-tech cameras stop              after the exam (journalled)
     after the exam:
      ppe-tech archive create --exam ID --to DIR   copy corridors, entrance, offline rooms
      ppe-tech archive verify DIR        every copied file present and intact
      ppe-tech journal confirm ...       the responsible person signs column 7
      ppe-tech journal print --out F     the official form as PDF
      ppe-tech journal push              to the regional centre, 30 min after the end

    Exit codes: 0 success, 1 a negative result (tampering found, a check failed),
    2 bad usage or input, 3 the environment stopped the command.
    """
    ctx.obj = resolve_app(config, data_dir, debug, rehearsal)
    if rehearsal:
        from templates.render import mark_rehearsal

        ctx.call_on_close(mark_rehearsal())
        click.secho(_("REHEARSAL: data in {folder}; the real journal is not touched.").format(folder=ctx.obj.data_dir),
                    fg="yellow", err=True)


def main(argv: list[str] | None = None) -> None:
    """The console script."""
    setup_standard_streams()
    sys.exit(run(argv))


def _lang_option(args: list[str]) -> str | None:
    """`--lang X` among the global options, read before click parses (help texts need it)."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1] if args[i + 1] in LANGUAGES else None
        if arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
            return value if value in LANGUAGES else None
        if not arg.startswith("-"):
            break  # the command name: global options end here
    return None


def run(argv: list[str] | None = None) -> int:
    """Run one command line; return its exit code (tests call this in-process)."""
    args = sys.argv[1:] if argv is None else argv
    with language_scope(_lang_option(args)):
        return _run(args)


def _print_traceback() -> None:
    """The traceback of the exception being handled, on stderr, with every secret masked."""
    click.echo(mask_url(traceback.format_exc()).rstrip("\n"), err=True)


def _run(args: list[str]) -> int:
    debug = "--debug" in args
    try:
        result = cli.main(args=args, prog_name="ppe-tech", standalone_mode=False)
        code = int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(_("ppe-tech: interrupted"), err=True)
        code = ExitCode.INTERRUPTED
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "ppe-tech"
        message = mask_url(" ".join(exc.format_message().split()))
        click.echo(_("{where}: {message} (see '{where} --help')").format(where=where, message=message), err=True)
        code = ExitCode.USAGE
    except click.ClickException as exc:
        click.echo(mask_url(f"ppe-tech: {' '.join(exc.format_message().split())}"), err=True)
        code = ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"ppe-tech: {mask_url(problem)}", err=True)
        code = exc.exit_code
    except PpeError as exc:
        click.echo(f"ppe-tech: {mask_url(exc.message)}", err=True)
        if exc.hint:
            click.echo(f"  {mask_url(exc.hint)}", err=True)
        if debug:
            _print_traceback()
        code = exc.exit_code
    except BrokenPipeError:  # the reader of stdout went away (`| head`): stop quietly
        sys.stdout = open(os.devnull, "w")
        code = ExitCode.NEGATIVE
    except OSError as exc:  # the environment: a file, a folder, a disk that would not cooperate
        if debug:
            _print_traceback()
        from ppe_tech.outputs import describe_os_error

        where = f": {exc.filename}" if exc.filename else ""
        click.echo(mask_url(f"ppe-tech: {describe_os_error(exc)}{where}"), err=True)
        code = ExitCode.ENVIRONMENT
    except Exception as exc:  # an internal error: one line, the traceback on request
        if debug:
            _print_traceback()
        click.echo(_("ppe-tech: internal error: {error} (run again with --debug for the traceback)").format(
            error=mask_url(f"{type(exc).__name__}: {exc}")), err=True)
        code = ExitCode.ENVIRONMENT
    return int(code)
