"""What members' messages mean. Each module registers its handlers on the one router.

Text routes are tried in the order the modules are imported here: specific commands first,
the broad natural-language patterns later; the fallback answers the rest.
"""

from handlers import (  # noqa: F401  (importing registers their routes)
    admin,
    bind,
    checkin,
    events,
    help,
    quiz,
    readings,
    stats,
)
from handlers.router import Router, router

__all__ = ["Router", "router"]
