"""cidr-allocator: a Flotilla value plugin that gives each cluster its own subnet of a pool.

    {{ plugin "cidr-allocator" "10.128.0.0/9" 20 }}

args[0] is the pool (a CIDR), args[1] the prefix length of the subnets to hand out. The subnet
is chosen by the cluster's `index` field when it has one, else by a stable hash of its `name`,
so the same cluster always gets the same subnet: the result is
{"cidr": "10.128.16.0/20", "gateway": "10.128.16.1", "index": 1}.
"""

import ipaddress
import json

import wit_world
from componentize_py_types import Err


def fnv1a(text: str) -> int:
    """A stable 64-bit FNV-1a hash (Python's own hash() is salted per process)."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def allocate(request: dict) -> dict:
    cluster = request.get("cluster") or {}
    args = request.get("args") or []
    if len(args) != 2:
        raise ValueError(f"expected 2 arguments (pool, prefix length), got {len(args)}")
    try:
        pool = ipaddress.ip_network(str(args[0]), strict=True)
    except ValueError as e:
        raise ValueError(f"bad pool {args[0]!r}: {e}") from None
    prefix = args[1]
    if isinstance(prefix, str) and prefix.isdigit():
        prefix = int(prefix)
    if isinstance(prefix, float) and prefix.is_integer():
        prefix = int(prefix)
    if not isinstance(prefix, int) or isinstance(prefix, bool):
        raise ValueError(f"prefix length must be an integer, got {args[1]!r}")
    if not pool.prefixlen <= prefix <= pool.max_prefixlen:
        raise ValueError(
            f"prefix length {prefix} does not fit in pool {pool} "
            f"(must be between {pool.prefixlen} and {pool.max_prefixlen})"
        )
    count = 1 << (prefix - pool.prefixlen)

    index = cluster.get("index")
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if isinstance(index, int) and not isinstance(index, bool):
        if not 0 <= index < count:
            raise ValueError(f"cluster index {index} is outside the pool's {count} subnets")
    else:
        name = cluster.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("the cluster has neither an integer `index` nor a `name`")
        index = fnv1a(name) % count

    first = int(pool.network_address) + (index << (pool.max_prefixlen - prefix))
    subnet = ipaddress.ip_network((first, prefix))
    gateway = subnet.network_address + 1 if subnet.num_addresses > 2 else subnet.network_address
    return {"cidr": str(subnet), "gateway": str(gateway), "index": index}


class WitWorld(wit_world.WitWorld):
    def resolve(self, request: str) -> str:
        try:
            return json.dumps(allocate(json.loads(request)), sort_keys=True)
        except ValueError as e:
            raise Err(str(e))
