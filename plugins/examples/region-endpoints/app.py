"""region-endpoints: a Flotilla value plugin that names a cloud region's service endpoints.

    {{ plugin "region-endpoints" "s3" "sts" }}

The cluster's `provider` (aws, gcp, azure) and `region` fields pick the endpoints; args name
the services wanted (all known ones when there are none). The result maps each service to its
URL: {"s3": "https://s3.eu-west-1.amazonaws.com", "sts": "https://sts.eu-west-1.amazonaws.com"}.
"""

import json
import re

import wit_world
from componentize_py_types import Err

REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")

# provider -> service -> URL template ({region} is replaced)
ENDPOINTS = {
    "aws": {
        "ec2": "https://ec2.{region}.amazonaws.com",
        "ecr": "https://api.ecr.{region}.amazonaws.com",
        "s3": "https://s3.{region}.amazonaws.com",
        "sts": "https://sts.{region}.amazonaws.com",
    },
    "gcp": {
        "artifactregistry": "https://{region}-docker.pkg.dev",
        "gcs": "https://storage.googleapis.com",
        "sts": "https://sts.googleapis.com",
    },
    "azure": {
        "acr": "https://{region}.data.azurecr.io",
        "blob": "https://{region}.blob.core.windows.net",
    },
}


def endpoints(request: dict) -> dict:
    cluster = request.get("cluster") or {}
    provider = cluster.get("provider")
    region = cluster.get("region")
    if provider not in ENDPOINTS:
        known = ", ".join(sorted(ENDPOINTS))
        raise ValueError(f"unknown provider {provider!r} (known: {known})")
    if not isinstance(region, str) or not REGION.match(region):
        raise ValueError(f"cluster {cluster.get('name', '?')!r} has no valid `region`: {region!r}")
    table = ENDPOINTS[provider]
    wanted = request.get("args") or sorted(table)
    out = {}
    for service in wanted:
        if service not in table:
            known = ", ".join(sorted(table))
            raise ValueError(f"{provider} has no service {service!r} (known: {known})")
        out[service] = table[service].format(region=region)
    return out


class WitWorld(wit_world.WitWorld):
    def resolve(self, request: str) -> str:
        try:
            return json.dumps(endpoints(json.loads(request)), sort_keys=True)
        except ValueError as e:
            raise Err(str(e))
