"""Firmware: the example bundle (main.c, Makefile, start-up code, linker scripts), the
targets it builds for, and flash/RAM measurement of the cross-compiled model."""

from .bundle import Bundle, fnv1a32, make_example, output_checksum, write_example
from .targets import TARGETS, Target, get_target

__all__ = ["TARGETS", "Bundle", "Target", "fnv1a32", "get_target", "make_example", "output_checksum", "write_example"]
