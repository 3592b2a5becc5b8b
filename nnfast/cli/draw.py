"""``nnfast draw``: a local web page to draw a digit (or drop a photo) and watch a network read it."""

import socket
import sys
import threading

import click

from .common import EXIT_SIGINT, echo_err, library_errors


@click.command("draw")
@click.argument("models", nargs=-1, type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port to serve on (default: a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 lets other machines use the page.")
@click.option("--no-browser", is_flag=True, help="Print the address only; do not open a browser.")
def draw(models, port, host, no_browser):
    """Serve a page to draw a digit on and watch a network read it, at http://127.0.0.1:PORT/.

    The page shows the prediction when a stroke ends, with its output (as
    'nnfast predict' shows it, or "not sure"), every output as a bar, and the
    28x28 image the network actually sees (prepared exactly as 'nnfast
    predict' prepares photos); a photo can be dropped on it or chosen.
    MODEL is any file 'nnfast eval' reads (chapters 1, 3 and 6; several give
    a picker, each named by what it is: "784-30-10, chapter 1 (net.npz)",
    "chapter 6: conv20x5, pool2, fc100 (conv.npz)"); without one, a default chapter 3 network is trained on first
    use (about 20 s) and kept in nnfast's data folder. Ctrl-C stops it.

    \b
    Examples:
      nnfast draw
      nnfast draw net.npz conv.npz --port 8000 --no-browser
    """
    try:
        import uvicorn

        from ..web.server import make_app
    except ImportError:
        raise click.ClickException("nnfast draw needs the [web] extra (Starlette and uvicorn): "
                                   "pip install -e '.[web]' in the checkout") from None
    from ..web.models import entries
    with library_errors():
        offered = entries(models, say=echo_err)
    sock = _listening_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo_err(f"warning: listening on {host}: anyone who can reach this machine there can use the page")
    click.echo(url)
    echo_err(f"Serving {len(offered)} model{'s' * (len(offered) != 1)} "
             f"({', '.join(e.name for e in offered)}); Ctrl-C stops it.")
    if not no_browser:
        import webbrowser
        threading.Timer(0.5, webbrowser.open, [url]).start()
    server = uvicorn.Server(uvicorn.Config(make_app(offered), log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    echo_err("Stopped.")
    sys.exit(EXIT_SIGINT)


def _listening_socket(host, port):
    """A socket bound to (host, port), port 0 meaning a free one; one clear message when that fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port or 0))
    except (OSError, OverflowError) as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port or 0}: {getattr(exc, 'strerror', None) or exc}")
    sock.listen(64)
    sock.set_inheritable(True)
    return sock
