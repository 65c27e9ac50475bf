"""The directory: local recipients, next hops from a province and from the NDXP, loops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgsp.routing import Directory, PeerUnknownError, Route, RoutingError
from sim.topology import load_topology

H56, H56B, H04, G22 = "000.00.00.H56", "000.00.01.H56", "000.00.00.H04", "000.00.00.G22"


def directory(hub_id: str, tmp_path: Path) -> Directory:
    return Directory(
        topology=load_topology("small"),
        hub_id=hub_id,
        is_national=hub_id == "ndxp",
        services_path=tmp_path / "services.json",
    )


def test_a_province_keeps_its_own_and_sends_the_rest_to_the_ndxp(tmp_path: Path) -> None:
    route = directory("lgsp-h56", tmp_path).route([H56B, H04, G22, H56B])
    assert route == Route(local=(H56B,), forwards={"ndxp": (H04, G22)})
    assert route.recipients == [H56B, H04, G22]


def test_the_ndxp_keeps_ministries_and_hands_the_rest_to_their_province(tmp_path: Path) -> None:
    route = directory("ndxp", tmp_path).route([G22, H04, H56, H56B])
    assert route.local == (G22,)
    assert dict(route.forwards) == {"lgsp-h04": (H04,), "lgsp-h56": (H56, H56B)}


def test_a_recipient_routed_back_where_it_came_from_is_a_loop(tmp_path: Path) -> None:
    with pytest.raises(RoutingError) as caught:
        directory("ndxp", tmp_path).route([H56, H04], came_from="lgsp-h56")
    assert caught.value.code == "routing_loop"
    with pytest.raises(RoutingError) as caught:
        directory("lgsp-h04", tmp_path).route([H56], came_from="ndxp")
    assert caught.value.code == "routing_loop"
    assert caught.value.http_status == 422


def test_unknown_recipients_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RoutingError) as caught:
        directory("lgsp-h56", tmp_path).route([H56B, "000.00.00.Z99"])
    assert caught.value.code == "unknown_recipient"
    assert "000.00.00.Z99" in caught.value.message


def test_a_hub_must_be_in_the_topology_with_its_role(tmp_path: Path) -> None:
    topology = load_topology("small")
    with pytest.raises(ValueError, match="not in topology"):
        Directory(
            topology=topology,
            hub_id="lgsp-h99",
            is_national=False,
            services_path=tmp_path / "s.json",
        )
    with pytest.raises(ValueError, match="role ndxp"):
        Directory(
            topology=topology, hub_id="ndxp", is_national=False, services_path=tmp_path / "s.json"
        )
    with pytest.raises(ValueError, match="role lgsp"):
        Directory(
            topology=topology,
            hub_id="lgsp-h56",
            is_national=True,
            services_path=tmp_path / "s.json",
        )


def test_agencies_of_the_hub(tmp_path: Path) -> None:
    agencies = directory("lgsp-h04", tmp_path).agencies()
    assert len(agencies) == 18
    assert all(a.hub_id == "lgsp-h04" for a in agencies)
    assert directory("ndxp", tmp_path).agencies()[0].organ_id == G22


def test_peer_addresses_are_reread_when_missing(tmp_path: Path) -> None:
    hubs = directory("lgsp-h56", tmp_path)
    with pytest.raises(PeerUnknownError):
        hubs.peer_url("ndxp")  # no services.json yet
    (tmp_path / "services.json").write_text(json.dumps({"ndxp": "http://127.0.0.1:9/"}))
    assert hubs.peer_url("ndxp") == "http://127.0.0.1:9"
    # Known peers are not re-read: a later change is seen after reload_peers().
    (tmp_path / "services.json").write_text(json.dumps({"ndxp": "http://127.0.0.1:10"}))
    assert hubs.peer_url("ndxp") == "http://127.0.0.1:9"
    hubs.reload_peers()
    assert hubs.peer_url("ndxp") == "http://127.0.0.1:10"


def test_a_broken_services_file_keeps_what_was_known(tmp_path: Path) -> None:
    hubs = directory("lgsp-h56", tmp_path)
    (tmp_path / "services.json").write_text(json.dumps({"ndxp": "http://a"}))
    assert hubs.peer_url("ndxp") == "http://a"
    (tmp_path / "services.json").write_text("{half written")
    with pytest.raises(PeerUnknownError):
        hubs.peer_url("lgsp-h04")
    assert hubs.peer_url("ndxp") == "http://a"
