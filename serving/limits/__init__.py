"""Limits that hold under hostile or careless clients, each where it can be enforced:

``body``        the request body, counted as it streams (a total cap, chunked or not) and read within
                an idle and a total timeout (pure ASGI middleware, outermost in the app)
``connection``  the request line and headers within a timeout (a uvicorn protocol: before any app runs)
``rate``        requests per API key and minute, by role (a token bucket per key, in this process)
``budget``      the memory of the photos being decoded at once (a weighted semaphore in bytes)

Every refusal is a 4xx in the one error shape of :mod:`serving.errors`, with a fix.
"""
