"""A real Redis Cluster on loopback, for tests and benchmarks: redis-server nodes with `--cluster-enabled yes`, the
slots split evenly between the primaries, each primary with `replicas` replicas.

A node's cluster bus listens on its port + 10000, so every node takes a port below the ephemeral range (where the
kernel picks the ports of outgoing connections, which could take a bus port first). The nodes keep their cluster
configuration in a directory of their own, so a node stopped and started again is the same node without its data:
a primary replaced without a replica.
"""

from __future__ import annotations

import random
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from infra.local.redis_server import RedisServer

SLOTS = 16384
BUS_PORT_OFFSET = 10000
LOWEST_PORT = 7000
EPHEMERAL_START = 32768  # Linux's default ip_local_port_range starts here
READY_SECONDS = 30.0


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cluster_node_port() -> int:
    """A free port whose bus port is free too, both below the ephemeral range."""
    while True:
        port = random.randrange(LOWEST_PORT, EPHEMERAL_START - BUS_PORT_OFFSET)  # noqa: S311 (a port, not a secret)
        if _bindable(port) and _bindable(port + BUS_PORT_OFFSET):
            return port


class ClusterNode(RedisServer):
    name = "redis-server (cluster node)"

    def __init__(self, directory: Path, node_timeout_ms: int) -> None:
        super().__init__(cluster_node_port())
        self._directory = directory
        self._node_timeout_ms = node_timeout_ms

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(self._directory / f"nodes-{self.port}.conf"),
            "--cluster-node-timeout",
            str(self._node_timeout_ms),
            # The shards that still have a primary keep serving when one has none (a primary lost, no replica).
            "--cluster-require-full-coverage",
            "no",
            "--repl-diskless-sync-delay",  # a replica synchronises at once, not after 5 s
            "0",
            "--dir",
            str(self._directory),
        ]

    def start_on_a_free_port(self, attempts: int = 5) -> None:
        """The first start: another process may take the chosen port first (the tests run in parallel)."""
        for _ in range(attempts - 1):
            try:
                self.start()
                return
            except RuntimeError:
                self.port = cluster_node_port()
        self.start()

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    @property
    def node_id(self) -> str:
        return str(self.admin().execute_command("CLUSTER MYID").decode())

    @property
    def name_in_cluster(self) -> str:
        return f"127.0.0.1:{self.port}"


class LocalRedisCluster:
    """`primaries` primaries (the slots split evenly), each with `replicas` replicas; `node_timeout_ms` is how long
    a node may be silent before the others call it failed (and a replica takes over)."""

    def __init__(self, primaries: int = 3, replicas: int = 0, node_timeout_ms: int = 1000) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="redis-cluster-")
        directory = Path(self._directory.name)
        self.primaries = [ClusterNode(directory, node_timeout_ms) for _ in range(primaries)]
        self.replicas = [ClusterNode(directory, node_timeout_ms) for _ in range(primaries * replicas)]
        self._replicas_per_primary = replicas
        self._formed = False

    @property
    def nodes(self) -> list[ClusterNode]:
        return [*self.primaries, *self.replicas]

    @property
    def url(self) -> str:
        """One node's URL, as a user would paste a node or configuration endpoint."""
        return self.primaries[0].url

    def client(self) -> RedisCluster:
        """An observer for tests: the cluster client, on every node."""
        return RedisCluster.from_url(self.url)

    def start(self) -> Self:
        """The first start forms the cluster; a later one (after `stop`) brings the same nodes back, empty."""
        for node in self.nodes:
            if self._formed:
                node.start()
            else:
                node.start_on_a_free_port()
        if not self._formed:
            self._form()
            self._formed = True
        self.wait_until_serving()
        return self

    def _form(self) -> None:
        share = SLOTS // len(self.primaries)
        for number, node in enumerate(self.primaries):
            last = SLOTS - 1 if number == len(self.primaries) - 1 else (number + 1) * share - 1
            node.admin().execute_command("CLUSTER ADDSLOTSRANGE", number * share, last)
        first = self.primaries[0].admin()
        for node in self.nodes[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", node.port)
        self._wait(lambda: all(self._known_nodes(node) == len(self.nodes) for node in self.nodes), "the nodes meet")
        for number, replica in enumerate(self.replicas):
            primary = self.primaries[number // self._replicas_per_primary]
            replica.admin().execute_command("CLUSTER REPLICATE", primary.node_id)

    @staticmethod
    def _known_nodes(node: ClusterNode) -> int:
        return len(node.admin().execute_command("CLUSTER NODES"))

    def wait_until_serving(self, nodes: list[ClusterNode] | None = None) -> None:
        """Until `nodes` (default: all) say the cluster is ok and every replica has synchronised."""
        watched = nodes if nodes is not None else self.nodes

        def serving() -> bool:
            for node in watched:
                info = node.admin().info()
                if node.admin().execute_command("CLUSTER INFO")["cluster_state"] != "ok":
                    return False
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
            return True

        self._wait(serving, "the cluster serves")

    @staticmethod
    def _wait(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{what}: not within {READY_SECONDS:g}s")

    def primary_of(self, key: str) -> ClusterNode:
        """The node serving `key`'s slot now, as the live nodes see it."""
        return self.primary_of_slot(key_slot(key.encode()))

    def move_slot(self, slot: int, target: ClusterNode, *, leave_behind: int = 0) -> ClusterNode:
        """The slot's keys moved to `target` as `redis-cli --cluster reshard` moves them; returns the source. With
        `leave_behind`, that many keys stay and the slot stays migrating: the source answers ASK for the keys that
        moved, until `finish_moving_slot`."""
        source = self.primary_of_slot(slot)
        target.admin().execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source.node_id)
        source.admin().execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target.node_id)
        names = source.admin().execute_command("CLUSTER GETKEYSINSLOT", slot, 1000)
        self._migrate(source, target, names[leave_behind:])
        if not leave_behind:
            self.finish_moving_slot(slot, source, target)
        return source

    def finish_moving_slot(self, slot: int, source: ClusterNode, target: ClusterNode) -> None:
        self._migrate(source, target, source.admin().execute_command("CLUSTER GETKEYSINSLOT", slot, 1000))
        for node in (target, source, *[n for n in self.primaries if n not in (source, target)]):
            node.admin().execute_command("CLUSTER SETSLOT", slot, "NODE", target.node_id)

    @staticmethod
    def _migrate(source: ClusterNode, target: ClusterNode, names: list[bytes]) -> None:
        if names:
            source.admin().execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *names)

    def primary_of_slot(self, slot: int) -> ClusterNode:
        for node in self.nodes:
            try:
                ranges = node.admin().execute_command("CLUSTER SLOTS")
            except redis.RedisError:
                continue
            for start, end, owner, *_ in ranges:
                if start <= slot <= end:
                    return next(n for n in self.nodes if n.port == int(owner[1]))
        raise LookupError(f"no node serves slot {slot}")

    def restart_empty(self, node: ClusterNode) -> None:
        """The node stopped and started again: the same slots, none of its data (no persistence)."""
        node.stop()
        node.start()
        self.wait_until_serving([node])

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def freeze(self) -> None:
        for node in self.nodes:
            node.freeze()

    def thaw(self) -> None:
        for node in self.nodes:
            node.thaw()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
        self._directory.cleanup()
