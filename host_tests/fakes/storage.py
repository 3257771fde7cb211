"""Fake of CircuitPython's `storage` (disable_usb_drive, remount)."""

import fakehw


def disable_usb_drive():
    fakehw.log("storage.disable_usb_drive")


def remount(mount_path, readonly=False, *, disable_concurrent_write_protection=False):
    fakehw.log("storage.remount", mount_path, readonly)
