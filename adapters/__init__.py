"""Adapters: each module knows one SDK's exceptions or one wire format.

This folder sits at the top of the repository and is installed as the package
``compat.adapters`` (``compat/adapters`` is a symlink to it, so that the source
tree, type checkers and the wheel all see the one name). They are found through
:func:`compat.register_adapter`'s registry by the module that defines an
exception's class, and imported only when such an exception is first
translated. None of them imports the SDK it reads: they go by class names and
attributes, so that each works with whichever version is installed.
"""

if __name__ != "compat.adapters":  # pragma: no cover - a second copy under another name
    raise ImportError(f"import compat.adapters, not {__name__}: the adapters live in compat")
