"""CTAP 2.1 §6.9 authenticatorSelection (0x0B): "is this the key you mean?" — a touch."""

from firmware import presence


def handle(auth, req):
    """CTAP2 authenticatorSelection command: wait for a touch, honour cancel."""
    presence.wait(auth)
    return None
