"""Sub-commands of the ``deeph2`` command line (see ``ase_deeph2.cli``)."""
