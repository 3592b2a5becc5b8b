"""`python -m nnfast`: the same command line as the `nnfast` script."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="nnfast")
