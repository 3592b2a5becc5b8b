"""``nnfast draw``'s web server: the page's files and two calls, on Starlette (the ``[web]`` extra).

Starlette, served by uvicorn, is a small, well-kept ASGI toolkit: routing,
requests and responses without a framework's weight, and no build step. The
server reads and writes nothing on disk: the page's files are read from the
package once, at start.

    GET  /                 the page
    GET  /static/NAME      its script, style and icon (only the files in ``static/``: no path reaches further)
    GET  /favicon.ico      the icon, for whatever asks there rather than reading the page's link
    GET  /api/models       the models offered: their names and class names
    POST /api/predict      {"model": i, "image": data URL} -> the prediction (see ``nnfast.web.reading``)
"""

import os

from .reading import MAX_BODY, RequestError, predict_image, read_request

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}


def static_files():
    """{name: (bytes, media type)} of the page's files, read once."""
    files = {}
    for name in sorted(os.listdir(STATIC)):
        path = os.path.join(STATIC, name)
        ext = os.path.splitext(name)[1]
        if os.path.isfile(path) and ext in TYPES:
            with open(path, "rb") as f:
                files[name] = (f.read(), TYPES[ext])
    return files


def make_app(entries):
    """The Starlette application serving ``entries`` (``nnfast.web.reading.Entry``, in the picker's order)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    files = static_files()

    def error(status, message):
        return JSONResponse({"error": message}, status_code=status)

    async def page(request):
        body, kind = files["index.html"]
        return Response(body, media_type=kind)

    async def static(request):
        found = files.get(request.path_params["name"])
        if found is None:
            return error(404, f"no file {request.path_params['name']!r}")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "no-cache"})

    async def favicon(request):
        body, kind = files["favicon.svg"]
        return Response(body, media_type=kind, headers={"Cache-Control": "max-age=86400"})

    async def models(request):
        return JSONResponse({"models": [{"name": e.name, "classes": e.classes} for e in entries]})

    async def predict(request):
        stated = request.headers.get("content-length")
        if stated is not None and stated.isdigit() and int(stated) > MAX_BODY:
            return error(413, f"the request is {int(stated) / 2**20:.1f} MB; at most {MAX_BODY / 2**20:.0f} MB")
        body = bytearray()
        async for chunk in request.stream():  # bounded as it arrives, whatever the header said
            body += chunk
            if len(body) > MAX_BODY:
                return error(413, f"the request is over {MAX_BODY / 2**20:.0f} MB")
        try:
            index, data = read_request(bytes(body), len(entries))
            answer = await run_in_threadpool(predict_image, entries[index], data)
        except RequestError as exc:
            return error(exc.status, str(exc))
        return JSONResponse(answer)

    async def not_found(request, exc):
        return error(getattr(exc, "status_code", 404), getattr(exc, "detail", None) or "not found")

    routes = [Route("/", page), Route("/static/{name}", static), Route("/favicon.ico", favicon),
              Route("/api/models", models),
              Route("/api/predict", predict, methods=["POST"])]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
