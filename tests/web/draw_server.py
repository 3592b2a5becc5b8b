"""A real nnfast draw server on a free port, in a thread of the test process (uvicorn, as the command runs it)."""

import contextlib
import socket
import threading
import time

import pytest


@contextlib.contextmanager
def serving(entries):
    """Yield the base URL of a server offering ``entries``; stop it after."""
    uvicorn = pytest.importorskip("uvicorn", reason="the draw page needs the [web] extra")
    from nnfast.web.server import make_app
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(make_app(entries), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
