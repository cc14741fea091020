"""ovh-license-audit: Windows SPLA licence compliance for OVHcloud Hosted Private Cloud."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ovh-license-audit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
