"""The key's main loop: poll the board's reports, feed CTAPHID, never die.

A board's entry point builds its board object, then either
  make_key(board)   everything at once: the authenticator, then CTAPHID over it
                    (the host board, the tests), or
  start_key(board)  only what CTAPHID INIT needs -- the store's state, for the
                    capability flags -- so a key that has just been plugged in
                    answers the host's first INIT within milliseconds; the
                    authenticator, with its command modules, is imported and
                    built at the first idle turn after the host spoke, or by
                    the first message that needs it (boards/micropython/app.py)
and calls run(board, key). Everything the loop needs from hardware is behind the board.
"""

import gc

from firmware import crypto, device
from firmware.ctaphid import CtapHid


def make_key(board):
    """Wire the layers together: board <- CTAPHID <- authenticator."""
    from firmware.authenticator import Authenticator

    auth = Authenticator(board)
    return CtapHid(board, auth, device.FIRMWARE_VERSION)


def start_key(board):
    """CTAPHID over an authenticator that is built when first needed (see Starting)."""
    return CtapHid(board, Starting(board), device.FIRMWARE_VERSION)


class Starting:
    """The application CTAPHID talks to while the authenticator is not built yet.

    CTAPHID answers INIT, PING, WINK, LOCK and CANCEL itself; it asks this
    object only for the capability flags (from the store's state: NMSG under
    alwaysUv) and hands it CBOR and MSG messages, which build the
    authenticator first. Opening the store here also makes the master
    secret on the very first boot (seeding the DRBG for it); on every other
    boot the DRBG's seeding and its flash write wait for build(). The power-up
    time is taken now, so the reset window counts from power-up.
    """

    def __init__(self, board):
        from firmware.store import STATE_ALWAYS_UV, Store

        crypto.set_rng(board.random, getattr(board, "unique_id", b""))
        self._board = board
        self._boot_ms = board.ticks_ms()
        # the passkey index is read, and the DRBG seeded, when the authenticator is built
        self._store = Store(board.storage, board.CONFIG.get("max_resident_credentials", 256), index=False, seed=False)
        self._store.report(board)  # a damaged store: logged and on the LED from power-up
        self._always_uv_key = STATE_ALWAYS_UV
        self.authenticator = None

    def build(self):
        """The authenticator (imported and made on the first call)."""
        if self.authenticator is None:
            from firmware.authenticator import Authenticator

            self._store.seed_random()  # the DRBG's flash seed, before anything secret is made
            self.authenticator = Authenticator(self._board, self._store, self._boot_ms)
            self._store.rk_count()  # the passkey index, now rather than inside the first request
        return self.authenticator

    @property
    def capabilities(self):
        if self.authenticator is not None:
            return self.authenticator.capabilities
        store = self._store
        # U2F off under alwaysUv, and while the store is damaged (Authenticator.capabilities)
        return device.capabilities(store.damaged is not None or bool(store.get(self._always_uv_key, False)))

    def handle(self, cmd, payload, transport):
        return self.build().handle(cmd, payload, transport)

    def tick(self):
        if self.authenticator is not None:
            self.authenticator.tick()


def run(board, hid=None, stop=None):
    """Serve CTAPHID until stop() is true (forever on a board).

    An exception anywhere below is logged and the half-done message, if any,
    is answered with ERR_OTHER; the loop itself carries on.
    """
    if hid is None:
        hid = make_key(board)
    app = hid.app
    # A key started with start_key() builds its authenticator at the first
    # idle turn after the host sent something (its INIT is answered by then).
    starting = app if isinstance(app, Starting) else None
    heard = False
    # The application's timers, looked at on every turn (firmware/ticks.py);
    # an application without any has no tick().
    tick = getattr(app, "tick", None)
    while stop is None or not stop():
        try:
            if hid.poll():
                heard = True
            elif starting is not None and heard:
                starting.build()
                starting = None
                gc.collect()  # start-up's leftovers, once, now that the key is whole
            else:
                # Nothing came: the DRBG's pool is made whole again now,
                # rather than inside the next request (firmware/crypto.py).
                crypto.refill_random_pool()
                board.idle()
            if tick is not None:
                tick()
        except Exception as e:
            board.log_exception(e)
            try:
                hid.abort()
            except Exception as e2:
                board.log_exception(e2)
    return hid
