"""What members' messages mean. Each module registers its handlers on the one router.

Text routes are tried in the order the modules are imported here: specific commands first,
the broad natural-language patterns later; the fallback answers the rest.
"""

from handlers import bind, checkin, events, help, readings, stats  # noqa: F401  (registration)
from handlers.router import Router, router

__all__ = ["Router", "router"]
