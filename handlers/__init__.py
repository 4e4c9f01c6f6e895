"""What members' messages mean. Each module registers its handlers on the one router.

Text routes are tried in the order the modules are imported here: specific commands first,
the broad natural-language patterns later; the fallback answers the rest.
"""

from handlers import (  # noqa: F401  (importing registers their routes)
    admin,
    bind,
)

# isort: split
# meetings before checkin: 「签到 1234」 is a meeting sign-in (a bare 「签到」 stays 打卡); its
# question guess is narrow (a meeting word and a question word) and precedes the task guess.
from handlers import meetings  # noqa: F401

# isort: split
from handlers import checkin, events, help, quiz, votes  # noqa: F401

# isort: split
# tasks before readings: task questions ("第二项在哪里看") must reach the task guess before the
# search guess, which would answer any text naming a known term.
from handlers import tasks  # noqa: F401

# isort: split
from handlers import readings, stats  # noqa: F401
from handlers.router import Router, router

__all__ = ["Router", "router"]
