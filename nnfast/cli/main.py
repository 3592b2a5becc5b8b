"""The ``nnfast`` command group: each command group lives in a module of its own and is added here.

Commands parse and check their options, call the library, and report. Library
errors (bad data, bad model files, bad images, bad numbers) become one short
message and a non-zero exit, never a traceback. Imports flow one way: this
module imports the command modules, they import ``common``; none imports another.
"""

import sys

import click

from .._version import __version__
from . import book, data, draw, evaluate, sweep, train
from .common import EXIT_SIGINT, echo_err

class _Group(click.Group):
    """Ctrl-C in any command exits 130 with one line (click's default is 'Aborted!' and 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            echo_err("Interrupted.")
            sys.exit(EXIT_SIGINT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="nnfast")
def main():
    """nnfast: the neural network of Nielsen's "Neural Networks and Deep Learning", fast.

    \b
    Examples:
      nnfast train                      # the book's run: 784-30-10, 30 epochs, batch 10, eta 3.0
      nnfast train --hidden 100 --save net.npz
      nnfast eval net.npz
      nnfast predict net.npz my-digit.jpg
      nnfast draw net.npz               # a page to draw a digit on and watch the network read it
      nnfast train --cost cross-entropy --eta 0.5 --lmbda 5.0 --monitor   # chapter 3's network2
      nnfast book ch3-100-98            # a published result of the book, reproduced
      nnfast data info
    """


for _command in (train.train, evaluate.evaluate, evaluate.predict, draw.draw, book.book_command, book.baseline,
                 data.data, sweep.sweep_command):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
