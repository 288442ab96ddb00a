"""Adapters: each module knows one SDK's exceptions or one wire format.

They are found through :func:`compat.register_adapter`'s registry by the module
that defines an exception's class, and imported only when such an exception is
first translated. None of them imports the SDK it reads: they go by class names
and attributes, so that each works with whichever version is installed.
"""
