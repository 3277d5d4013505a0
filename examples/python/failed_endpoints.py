#!/usr/bin/python3
"""Lists the failed endpoints of a Purser campaign.

Uses Debian's python3-grpcio; the stubs are generated at build time into
build/python (protoc + grpc_python_plugin). A viewer certificate is enough.

  PYTHONPATH=build/python examples/python/failed_endpoints.py \
      --server 127.0.0.1:7443 --ca ca.pem --cert viewer.pem --key viewer.key c-1234abcd
"""
import argparse
import sys

import grpc

from purser.v1 import campaign_pb2, operator_pb2, operator_pb2_grpc


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("campaign")
    a = p.parse_args()
    read = lambda path: open(path, "rb").read()
    creds = grpc.ssl_channel_credentials(read(a.ca), read(a.key), read(a.cert))
    # The server's certificate names "purser-server", whatever address is dialled.
    channel = grpc.secure_channel(a.server, creds,
                                  options=[("grpc.ssl_target_name_override", "purser-server")])
    stub = operator_pb2_grpc.OperatorServiceStub(channel)
    members, token = [], ""
    try:
        while True:  # members come a page at a time
            got = stub.GetCampaign(operator_pb2.GetCampaignRequest(id=a.campaign, page_token=token),
                                   timeout=10)
            members.extend(got.members)
            token = got.next_page_token
            if not token:
                break
    except grpc.RpcError as e:
        print(f"{e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    c = got.campaign
    print(f"campaign {c.id} ({c.name}): {campaign_pb2.CampaignState.Name(c.state)}, "
          f"{c.counters.failed} failed of {c.counters.members}")
    for m in members:
        if m.state != campaign_pb2.MEMBER_STATE_FAILED:
            continue
        e = stub.GetEndpoint(operator_pb2.GetEndpointRequest(id=m.endpoint_id), timeout=10).endpoint
        print(f"{m.endpoint_id}\t{e.hostname}\t{m.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
