"""A click command: dashed options, a flag, a Choice, a multiple option."""
import click
from _echo import echo


@click.command()
@click.option("--batch-size", type=int, default=8, help="batch size")
@click.option("--dropout", type=float, default=0.1, help="dropout rate")
@click.option("--fast", is_flag=True, help="fast mode")
@click.option("--act", type=click.Choice(["relu", "tanh"]), default="relu", help="activation")
def main(batch_size, dropout, fast, act):
    echo({"batch_size": batch_size, "dropout": dropout, "fast": fast, "act": act})


if __name__ == "__main__":
    main()
