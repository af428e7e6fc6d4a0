"""The server's garbage-collector settings, applied once start-up is done (asgi.py), and by
the bench, so that it measures frames as the server makes them.

Frames are many small, short-lived containers. With CPython's default thresholds (700, 10,
10), 500 viewers each playing their own run set off a full collection every second or
two, each pausing every socket for about 0.3 s; at (50,000, 20, 100) one ran in the 30 s
of `make bench`'s capacity row and the server's CPU per frame fell from 381 to 321 µs.
What start-up made (Django, the engines' tables) is frozen out of every collection.
"""

import gc

THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
