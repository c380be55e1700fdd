"""Local Midtrans simulator: Snap + Core API endpoints and signed HTTP notifications."""

__all__ = ["__version__"]

__version__ = "0.1.0"
