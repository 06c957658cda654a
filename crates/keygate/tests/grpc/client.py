"""A gRPC client for keygate's tests: `client.py TARGET KEY` calls Echo.Unary and
Echo.Bidi on TARGET (host:port, h2c) with `apikey: KEY` in the metadata (none when KEY
is `-`) and prints one JSON line with what came back: statuses, messages, the initial
metadata and the trailers. Needs HTTP/2 on keygate's side (h2c or TLS).
"""

import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

here = os.path.dirname(os.path.abspath(__file__))
out = tempfile.mkdtemp(prefix="keygate-grpc-")
if protoc.main(["protoc", f"-I{here}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.join(here, "echo.proto")]) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out)

import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402


def main():
    target, key = sys.argv[1], sys.argv[2]
    metadata = () if key == "-" else (("apikey", key),)
    stub = echo_pb2_grpc.EchoStub(grpc.insecure_channel(target))
    report = {}
    try:
        reply, call = stub.Unary.with_call(echo_pb2.Message(text="hello"), metadata=metadata, timeout=10)
        report["unary"] = {"code": call.code().name, "text": reply.text,
                           "trailers": dict(call.trailing_metadata())}
    except grpc.RpcError as error:
        report["unary"] = {"code": error.code().name, "message": error.details()}
    try:
        call = stub.Bidi(iter([echo_pb2.Message(text=t) for t in ("a", "b", "c")]), metadata=metadata, timeout=10)
        texts = [reply.text for reply in call]
        report["bidi"] = {"code": call.code().name, "texts": texts,
                          "trailers": dict(call.trailing_metadata())}
    except grpc.RpcError as error:
        report["bidi"] = {"code": error.code().name, "message": error.details()}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
