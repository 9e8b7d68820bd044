"""Version of the installed package."""

from importlib import metadata

try:
    __version__ = metadata.version("langchain-automix")
except metadata.PackageNotFoundError:  # running from a source checkout
    __version__ = "0.0.0"
