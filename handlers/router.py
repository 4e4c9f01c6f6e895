"""One registry of handlers. A handler names what it answers and does one thing:

    @router.text("打卡", "签到", pattern=r"...")
    def check_in(inbound: Inbound, ctx: Context) -> Reply: ...

Handlers never see HTTP or XML, so the same function serves the Official Account, WeCom and
the sandbox simulator.

A command members may type names its line in 帮助 where it is registered, so the menu cannot
drift from what is answered (handlers/help.py renders them; tests/test_help_menu.py sends every
「example」 of every line and checks the route that declared it answers):

    @router.text("我的", help=HelpLine(20, "进度", "「我的」看本月打卡和答题"))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from re import Match

from bot.context import Context
from bot.messages import Inbound, Reply

Handler = Callable[[Inbound, Context], Reply]
Guess = Callable[[Inbound, Context], Reply | None]


@dataclass(frozen=True)
class HelpLine:
    """One line of the member's 帮助: `order` places it (10, 20, ...: leave gaps), `label`
    names the feature, `text` says what to send; every 「...」 in it is a message that works as
    written (a placeholder such as 「绑定 姓名 手机后四位」 reaches the same handler)."""

    order: int
    label: str
    text: str

    def render(self) -> str:
        return f"· {self.label}：{self.text}"


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler
    words: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    needs_member: bool = True
    admin_only: bool = False
    help: HelpLine | None = None

    def match(self, text: str) -> Match[str] | bool | None:
        if text in self.words:
            return True
        if self.pattern is not None:
            return self.pattern.fullmatch(text)
        return None


@dataclass
class Router:
    text_routes: list[Route] = field(default_factory=list)
    event_routes: dict[str, Route] = field(default_factory=dict)
    kind_routes: dict[str, Route] = field(default_factory=dict)
    guesses: list[Guess] = field(default_factory=list)
    fallback_route: Route | None = None
    unbound_route: Route | None = None
    refusal_route: Route | None = None

    def text(self, *words: str, pattern: str | None = None, needs_member: bool = True,
             admin_only: bool = False, help: HelpLine | None = None,  # noqa: A002
             ) -> Callable[[Handler], Handler]:
        """Answer texts equal to one of `words`, or fully matching `pattern` (after normalising);
        `help` is the command's line in 帮助 (admins also see the admin-only ones)."""
        compiled = re.compile(pattern) if pattern else None

        def register(handler: Handler) -> Handler:
            self.text_routes.append(Route(handler.__name__, handler, words, compiled,
                                          needs_member, admin_only, help))
            return handler
        return register

    def help_lines(self, *, admin: bool = False) -> list[HelpLine]:
        """The lines of 帮助 in order: the member commands, and the admin ones for an admin."""
        # Two commands of one feature may share a line (投票 and 我的投票): listed once.
        lines = dict.fromkeys(r.help for r in self.text_routes
                              if r.help is not None and (admin or not r.admin_only))
        return sorted(lines, key=lambda line: line.order)

    def event(self, *names: str, needs_member: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                self.event_routes[name] = Route(handler.__name__, handler,
                                                needs_member=needs_member)
            return handler
        return register

    def kind(self, *kinds: str) -> Callable[[Handler], Handler]:
        """Answer a message type (image, voice, ...) whatever it contains."""
        def register(handler: Handler) -> Handler:
            for kind in kinds:
                self.kind_routes[kind] = Route(handler.__name__, handler, needs_member=False)
            return handler
        return register

    def guess(self, handler: Guess) -> Guess:
        """A free-text interpreter tried, in registration order, when no text route matched
        and the sender is a member; it returns None to pass to the next one (then the fallback).
        """
        self.guesses.append(handler)
        return handler

    def fallback(self, handler: Handler) -> Handler:
        """What anything unmatched gets."""
        self.fallback_route = Route(handler.__name__, handler, needs_member=False)
        return handler

    def unbound(self, handler: Handler) -> Handler:
        """What someone not yet bound to a member gets when a handler needs a member."""
        self.unbound_route = Route(handler.__name__, handler, needs_member=False)
        return handler

    def refusal(self, handler: Handler) -> Handler:
        """What a member gets for an admin-only command."""
        self.refusal_route = Route(handler.__name__, handler, needs_member=False)
        return handler

    def route_for(self, inbound: Inbound) -> tuple[Route, Match[str] | None]:
        if inbound.kind == "event":
            route = self.event_routes.get(inbound.event) or self.kind_routes.get("event")
            return self._must(route), None
        if inbound.kind != "text":
            return self._must(self.kind_routes.get(inbound.kind) or self.kind_routes.get("*")), None
        text = inbound.normalised_text
        for route in self.text_routes:
            found = route.match(text)
            if found:
                return route, found if isinstance(found, Match) else None
        return self._must(self.fallback_route), None

    def dispatch(self, inbound: Inbound, ctx: Context) -> Reply:
        route, match = self.route_for(inbound)
        if route is self.fallback_route and inbound.kind == "text" and ctx.member is not None:
            for guess in self.guesses:
                reply = guess(inbound, ctx)
                if reply is not None:
                    return reply
        if route.needs_member and ctx.member is None:
            route = self._must(self.unbound_route)
        elif route.admin_only and not (ctx.member and ctx.member.is_admin):
            route = self._must(self.refusal_route)
        ctx.match = match
        return route.handler(inbound, ctx)

    @staticmethod
    def _must(route: Route | None) -> Route:
        if route is None:
            raise LookupError("the router has no handler for this message and no fallback")
        return route


router = Router()
