"""The `svd-learn` command. Each lesson's module adds the commands it teaches; this file only wires them."""

import json

import typer

app = typer.Typer(
    help="svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """svd-learn: run Stable Video Diffusion on a small GPU, and diagnose what goes wrong."""


@app.command()
def env(as_json: bool = typer.Option(False, "--json", help="Print the probe as JSON.")) -> None:
    """Show this machine (GPU, VRAM, host RAM, Colab or not, library versions) and the model source."""
    from svd_learn.environment import choose_source, header, probe

    environment = probe()
    if as_json:
        typer.echo(json.dumps(environment.to_dict(), indent=2))
    else:
        typer.echo(header(environment, choose_source(environment)))



@app.command()
def doctor() -> None:
    """Check this environment for known-bad version combinations (lesson 3); exit 1 when one is found."""
    from svd_learn.compat import doctor as run_doctor

    raise typer.Exit(1 if run_doctor() else 0)


@app.command()
def explain(
    file: str = typer.Argument("-", help="A file holding the error message or traceback; '-' reads standard input."),
    list_known: bool = typer.Option(False, "--list", help="List the known errors instead."),
) -> None:
    """Name the cause, the versions involved and the fix of a pasted error (lesson 3); exit 1 if not recognised."""
    from svd_learn import compat

    raise typer.Exit(compat.explain_command(file, list_known))


lab_app = typer.Typer(help="Reproduce a known version error in a throwaway environment (lesson 3).", no_args_is_help=True)
app.add_typer(lab_app, name="lab")


@lab_app.command("list")
def lab_list() -> None:
    """List the reproductions."""
    from svd_learn import lab

    lab.print_list()


@lab_app.command("run")
def lab_run(entry_id: str = typer.Argument(..., help="The id of a reproduction (svd-learn lab list).")) -> None:
    """Reproduce a known error for real, diagnose it, then show the fixed environment running cleanly."""
    from svd_learn import lab

    raise typer.Exit(lab.run_command(entry_id))


if __name__ == "__main__":
    app()
