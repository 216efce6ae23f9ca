"""Building the NESTML neuron into a NEST extension module (``python build.py``, ``python -m microcircuit.build``).

* :mod:`.manifest`: where the module lives and what was built, shared with the loader
  (:func:`microcircuit.network.install_neuron_module`);
* :mod:`.toolchain`: what it takes to compile against the installed NEST, detected without
  importing it;
* :mod:`.edits`: the documented edits of the generated C++;
* :mod:`.builder`: generation, edits and compilation with NESTML's API.
"""
from ..errors import BuildError
from .builder import build
from .manifest import MODULE_NAME, NESTML_MODEL, check_module, default_build_dir

__all__ = ["BuildError", "MODULE_NAME", "NESTML_MODEL", "build", "check_module", "default_build_dir"]
