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


if __name__ == "__main__":
    app()
