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
import sys
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


def form_cluster(primaries: list[redis.Redis], replicas: list[redis.Redis]) -> None:
    """What `redis-cli --cluster create` does: the slots split evenly between the primaries, every node met (by
    address: CLUSTER MEET takes no host name), the replicas shared out between the primaries in turn."""
    share = SLOTS // len(primaries)
    for number, node in enumerate(primaries):
        last = SLOTS - 1 if number == len(primaries) - 1 else (number + 1) * share - 1
        node.execute_command("CLUSTER ADDSLOTSRANGE", number * share, last)
    everyone = [*primaries, *replicas]
    for node in everyone[1:]:
        options = node.connection_pool.connection_kwargs
        primaries[0].execute_command("CLUSTER MEET", socket.gethostbyname(options["host"]), options["port"])
    _wait(
        lambda: all(len(node.execute_command("CLUSTER NODES")) == len(everyone) for node in everyone), "the nodes meet"
    )
    per_primary = len(replicas) // len(primaries)
    for number, replica in enumerate(replicas):
        replica.execute_command("CLUSTER REPLICATE", node_id(primaries[number // per_primary]))
    wait_until_serving(everyone)


def node_id(node: redis.Redis) -> str:
    return str(node.execute_command("CLUSTER MYID").decode())


def wait_until_serving(nodes: list[redis.Redis]) -> None:
    """Until every one of `nodes` says the cluster is ok, and every replica among them has synchronised."""

    def serving() -> bool:
        for node in nodes:
            if node.execute_command("CLUSTER INFO")["cluster_state"] != "ok":
                return False
            info = node.info()
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    _wait(serving, "the cluster serves")


class ClusterNode(RedisServer):
    name = "redis-server (cluster node)"

    def __init__(self, directory: Path, node_timeout_ms: int, tls: tuple[Path, Path] | None = None) -> None:
        super().__init__(cluster_node_port())
        self._directory = directory
        self._node_timeout_ms = node_timeout_ms
        self._tls = tls  # the certificate (its own authority) and its key: TLS only, between the nodes too

    @property
    def url(self) -> str:
        if self._tls is None:
            return super().url
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self._tls[0]}"

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
            *self._tls_options(),
        ]

    def _tls_options(self) -> list[str]:
        if self._tls is None:
            return []
        certificate, key = (str(path) for path in self._tls)
        return [
            *("--port", "0", "--tls-port", str(self.port), "--tls-cert-file", certificate, "--tls-key-file", key),
            *("--tls-ca-cert-file", certificate, "--tls-auth-clients", "no"),
            *("--tls-cluster", "yes", "--tls-replication", "yes"),
        ]

    def answers(self) -> bool:
        try:
            return bool(self.admin().ping())
        except redis.ConnectionError:
            return False

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
        return redis.Redis.from_url(self.url, socket_timeout=5)

    @property
    def node_id(self) -> str:
        return node_id(self.admin())


class LocalRedisCluster:
    """`primaries` primaries (the slots split evenly), each with `replicas` replicas; `node_timeout_ms` is how long
    a node may be silent before the others call it failed (and a replica takes over); with `tls`, every connection
    is TLS (`rediss://`), the nodes' own too."""

    def __init__(
        self, primaries: int = 3, replicas: int = 0, node_timeout_ms: int = 1000, *, tls: bool = False
    ) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="redis-cluster-")
        directory = Path(self._directory.name)
        certificate = None
        if tls:
            from infra.local.tls import self_signed_certificate  # cryptography: a dev dependency

            certificate = self_signed_certificate(directory)
        self.primaries = [ClusterNode(directory, node_timeout_ms, certificate) for _ in range(primaries)]
        self.replicas = [ClusterNode(directory, node_timeout_ms, certificate) for _ in range(primaries * replicas)]
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
        if self._formed:
            for node in self.nodes:
                node.start()
            self.wait_until_serving()
        else:
            for node in self.nodes:
                node.start_on_a_free_port()
            form_cluster([node.admin() for node in self.primaries], [node.admin() for node in self.replicas])
            self._formed = True
        return self

    def wait_until_serving(self, nodes: list[ClusterNode] | None = None) -> None:
        """Until `nodes` (default: all) say the cluster is ok and every replica has synchronised."""
        wait_until_serving([node.admin() for node in (nodes if nodes is not None else self.nodes)])

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


def main() -> None:
    """`python -m infra.local.redis_cluster form HOST:PORT ...`: those nodes, started with cluster mode on and
    empty, formed into a cluster of primaries (docker-compose.yml's redis-cluster profile)."""
    command, *addresses = sys.argv[1:]
    if command != "form" or not addresses:
        raise SystemExit("usage: python -m infra.local.redis_cluster form HOST:PORT [HOST:PORT ...]")
    nodes = [
        redis.Redis(host=host, port=int(port), socket_timeout=5) for host, port in (a.split(":") for a in addresses)
    ]
    _wait(lambda: all(node.ping() for node in nodes), "the nodes answer")
    if nodes[0].execute_command("CLUSTER INFO")["cluster_state"] == "ok":
        print("the cluster is formed already", flush=True)
        return
    form_cluster(nodes, [])
    print(f"a cluster of {len(nodes)} primaries", flush=True)


if __name__ == "__main__":
    main()
