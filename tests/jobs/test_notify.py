"""The notification port's routing: which channel a cluster's messages go to."""

from __future__ import annotations

from jobs.notify import Route, Routing


def test_routing_takes_the_first_matching_route_else_the_default() -> None:
    routing = Routing("#net", (Route({"env": "prod"}, "#prod"), Route({"env": "prod"}, "#x")))
    assert routing.channel_for({"env": "prod", "team": "a"}) == "#prod"
    assert routing.channel_for({}) == "#net"
    assert Routing().channel_for({"env": "prod"}) is None
    assert routing.channels == ("#net", "#prod", "#x")


def test_a_route_with_a_minimum_severity_takes_only_matches_that_severe() -> None:
    routing = Routing(
        "#net-advisories",
        (
            Route({}, "#net-oncall", "high"),
            Route({"env": "prod"}, "#prod", None),
        ),
    )
    assert routing.channel_for({}, "critical") == "#net-oncall"
    assert routing.channel_for({}, "high") == "#net-oncall"
    assert routing.channel_for({}, "medium") == "#net-advisories"
    assert routing.channel_for({}, None) == "#net-advisories"  # unrated: the least severe
    assert routing.channel_for({"env": "prod"}, "low") == "#prod"
    assert routing.channels_for({"env": "prod"}) == ("#net-oncall", "#prod")
    assert routing.channels_for({}) == ("#net-oncall", "#net-advisories")
