"""``nnfast draw``: a local page to draw a digit on, or drop a photo, and watch a network read it.

``reading`` turns a request into a prediction (no web framework), ``server``
serves the page and its two calls with Starlette (the ``[web]`` extra),
``models`` loads the models offered or trains the default one, and ``static/``
holds the page itself: plain HTML, CSS and JavaScript, no build step, no CDN.
"""
