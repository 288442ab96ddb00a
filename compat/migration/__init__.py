"""Moving code written for ``openai<1`` to the current SDK.

:mod:`compat.migration.scan` is ``python -m compat scan``: it finds every use of
``openai.error`` (and the legacy API around it), says what each becomes, and with
``--fix`` rewrites the error handling to :mod:`compat.legacy`. ``import compat``
loads none of it.
"""
