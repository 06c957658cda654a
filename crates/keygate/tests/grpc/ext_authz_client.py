"""Envoy's gRPC ext_authz client side: sends CheckRequests, built with Envoy's own
generated API (the `xds-protos` package) and sent with grpcio, to keygate's
`authz.grpc_listen`, and prints what came back as JSON.

    python3 ext_authz_client.py 127.0.0.1:9191 '[{"method": "GET", "path": "/v1/x",
        "host": "api.example.com", "headers": {"client-key": "..."}, "source": "203.0.113.5"}]'

Prints one JSON list: per check its gRPC status code and the OK or denied answer.
"""

import json
import sys

import grpc
from envoy.config.core.v3 import address_pb2
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc


def check_request(check):
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method=check["method"],
        path=check["path"],
        host=check["host"],
        scheme=check.get("scheme", "http"),
        protocol="HTTP/1.1",
        headers=check["headers"],
    )
    source = attribute_context_pb2.AttributeContext.Peer(
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(address=check["source"], port_value=40000)
        )
    )
    return external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            source=source,
            request=attribute_context_pb2.AttributeContext.Request(http=http),
        )
    )


def fields(options):
    return {option.header.key: option.header.value for option in options}


def main():
    address, checks = sys.argv[1], json.loads(sys.argv[2])
    results = []
    with grpc.insecure_channel(address) as channel:
        stub = external_auth_pb2_grpc.AuthorizationStub(channel)
        for check in checks:
            response = stub.Check(check_request(check), timeout=10)
            result = {"code": response.status.code, "message": response.status.message}
            which = response.WhichOneof("http_response")
            if which == "ok_response":
                ok = response.ok_response
                result["ok"] = {
                    "headers": fields(ok.headers),
                    "headers_to_remove": list(ok.headers_to_remove),
                    "query_parameters_to_remove": list(ok.query_parameters_to_remove),
                }
            elif which == "denied_response":
                denied = response.denied_response
                result["denied"] = {
                    "status": denied.status.code,
                    "headers": fields(denied.headers),
                    "body": denied.body,
                }
            results.append(result)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
