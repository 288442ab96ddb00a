"""Clients compat ships for services no SDK covers: the seed gateway's (:mod:`compat.clients.gateway`).

A client sits above the error model, the adapters and the retry policy: it
calls the service, reads each answer with :func:`compat.from_response` and
raises compat errors; :func:`compat.wrap` accepts it.
"""
