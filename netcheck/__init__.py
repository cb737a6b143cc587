"""netcheck: network reachability checks for Microsoft 365 Apps activation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("netcheck")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"
