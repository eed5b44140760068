"""EN-SEMBLE analysis helpers."""
__version__ = "0.1.0"
