"""The command-line tools: one module per command, the shared layer in :mod:`.common`.

``python -m microcircuit.run``, ``.validate``, ``.theory``, ``.benchmark``, ``.analyse`` and
``.build`` start the ``main`` of the module of the same name here. Nothing in the library
imports this package.
"""
