"""workers.embedded changes two of Ray's private functions while tuner starts a cluster itself. A Ray that moves
them would quietly bring back seconds of every cold start: these fail first (the loopback and warm-cluster tests
check the effect on real clusters: no dashboard head)."""

from __future__ import annotations

import pytest
from ray._private import node as ray_node
from ray._private import services

from workers import embedded


def test_lean_start_replaces_the_dashboard_start_and_the_node_wait_and_restores_them() -> None:
    api_server, get_node = ray_node.Node.start_api_server, services.get_node
    with embedded.lean_start():
        assert ray_node.Node.start_api_server is not api_server
        assert services.get_node is not get_node
        # no dashboard asked for: nothing started, nothing returned (Ray then keeps no dashboard url)
        assert ray_node.Node.start_api_server(object(), include_dashboard=False, raise_on_failure=False) is None
    assert ray_node.Node.start_api_server is api_server and services.get_node is get_node


def test_lean_start_restores_them_when_the_start_fails() -> None:
    api_server, get_node = ray_node.Node.start_api_server, services.get_node
    with pytest.raises(RuntimeError), embedded.lean_start():
        raise RuntimeError("ray.init failed")
    assert ray_node.Node.start_api_server is api_server and services.get_node is get_node
