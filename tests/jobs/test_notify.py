"""The notification port's routing: which channel a cluster's messages go to."""

from __future__ import annotations

from jobs.notify import Route, Routing


def test_routing_takes_the_first_matching_route_else_the_default() -> None:
    routing = Routing("#net", (Route({"env": "prod"}, "#prod"), Route({"env": "prod"}, "#x")))
    assert routing.channel_for({"env": "prod", "team": "a"}) == "#prod"
    assert routing.channel_for({}) == "#net"
    assert Routing().channel_for({"env": "prod"}) is None
    assert routing.channels == ("#net", "#prod", "#x")
