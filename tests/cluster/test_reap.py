"""A cluster left behind by a killed test run (its teardown never ran) is taken down by the next `up`, and only
then: one whose owner still runs, or one made by `make cluster-up` (no owner), is left alone."""

from __future__ import annotations

import dataclasses
import os
import subprocess

import pytest

from fresh import cluster


def _namespaces(prefix: str) -> list[str]:
    return [ns for ns in cluster.sh("ip", "netns", "list").split() if ns.startswith(prefix)]


@pytest.fixture
def orphan(tmp_path):
    """Bare network hosts (no databases: reaping does not depend on them) with a server-like process on db1, owned
    by a process of the test's own."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root; run make test as root")
    owner = subprocess.Popen(["sleep", "600"])
    c = cluster.choose(tmp_path / "cluster")
    c = dataclasses.replace(c, owner=owner.pid, owner_start=cluster.process_start(owner.pid))
    c.save()
    try:
        cluster.network_up(c)
        server = cluster.spawn(c, "db1", "sleeper", ["sleep", "600"])
        yield c, owner, server
    finally:
        owner.kill()
        owner.wait()
        cluster.down(c.var)


def test_a_cluster_whose_owner_ended_is_taken_down_by_the_next_up(orphan):
    c, owner, server = orphan
    assert c.prefix not in cluster.reap_orphans()  # its owner runs: not an orphan
    assert len(_namespaces(c.prefix)) == len(cluster.HOSTS) and cluster.pid_of(c, "db1", "sleeper") == server

    owner.kill()  # the test run dies: no teardown
    owner.wait()
    assert c.prefix in cluster.reap_orphans()  # (with any other run's leftovers on this machine)
    assert _namespaces(c.prefix) == []
    assert c.bridge not in cluster.sh("ip", "link", "show")
    assert not cluster._alive(server)
    assert not (cluster.REGISTRY / f"{c.prefix}.json").exists() and cluster.Cluster.load(c.var) is None


def test_a_cluster_without_an_owner_is_left_to_cluster_down(orphan):
    c, _, _ = orphan
    unowned = dataclasses.replace(c, owner=None, owner_start="")
    unowned.save()  # as `make cluster-up` registers it
    assert c.prefix not in cluster.reap_orphans()
    assert len(_namespaces(c.prefix)) == len(cluster.HOSTS)
    assert cluster.down(c.var) and _namespaces(c.prefix) == []
