"""Fake of micropython-lib's `usb.device` package (usb-device): get() and the core classes."""

from .core import get  # noqa: F401
