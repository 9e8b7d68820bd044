"""The ``automix`` command line."""
