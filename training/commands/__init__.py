"""``deeph2 train`` and ``deeph2 evaluate`` (registered in ``ase_deeph2.cli``)."""
