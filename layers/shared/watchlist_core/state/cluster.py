"""A Redis Cluster, through redis-py's cluster client for what it knows (the slot map, redirects, failovers) and
through each node's own client for the commands: a pipeline of one slot's commands goes to the slot's node as one
round trip, a single command is one round trip too. (Imported only when `REDIS_URL` names a cluster.)

A command that comes back redirected (MOVED after a failover or a resharding; ASK or TRYAGAIN for keys moved while
their slot migrates) is sent again through the cluster client, which follows the redirect and learns the new owner.
A connection error or timeout is raised at once: redis-py's ClusterPipeline would send each of the pipeline's
commands again, each waiting out the timeout on a node that hangs, and its commands pay for routing that a slot's
node, known once, does not need.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import AskError, MovedError, TryAgainError

from watchlist_core.state.client import Slot

REDIRECTED = (AskError, MovedError, TryAgainError)


class NodeClient(Redis):
    """One node's client (its connection pool), whose redirected commands go through the cluster client."""

    def __init__(self, cluster: RedisCluster, node: ClusterNode) -> None:
        super().__init__(connection_pool=cluster.get_redis_connection(node).connection_pool)
        self.cluster_client = cluster
        self.node_name = str(node.name)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)
        except REDIRECTED:
            return self.cluster_client.execute_command(*args, **options)


class Cluster:
    def __init__(self, cluster: RedisCluster) -> None:
        self._cluster = cluster
        self._node_clients: dict[str, NodeClient] = {}

    def slot(self, key: str) -> ClusterSlot:
        node = self._cluster.get_node_from_key(key)
        client = self._node_clients.get(node.name)
        if client is None:
            client = self._node_clients[node.name] = NodeClient(self._cluster, node)
        return ClusterSlot(client)

    def reload(self, failed_node: str) -> None:
        # Every node known, not only the URL's: the URL may name the very node that failed.
        known = [(node.host, node.port) for node in self._cluster.get_nodes()]
        self._cluster.nodes_manager.initialize(additional_startup_nodes_info=known, last_failed_node_name=failed_node)
        self._node_clients.clear()  # a node's pool may have been replaced

    def ping(self) -> bool:
        return bool(self._cluster.ping(target_nodes=self._cluster.PRIMARIES))


class ClusterSlot(Slot):
    def __init__(self, client: NodeClient) -> None:
        super().__init__(client, client.node_name)
        self._cluster_client = client.cluster_client

    def execute(self, pipeline: Pipeline) -> list[Any]:
        sent = list(pipeline.command_stack)
        results = pipeline.execute(raise_on_error=False)
        for index, result in enumerate(results):
            if isinstance(result, REDIRECTED):
                args, options = sent[index]
                results[index] = self._cluster_client.execute_command(*args, **options)
            elif isinstance(result, Exception):
                raise result
        return results
