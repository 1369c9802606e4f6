"""``ptycho.config``: see :mod:`ptycho.config.config`."""
