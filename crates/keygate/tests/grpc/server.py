"""The gRPC test upstream: the Echo service of echo.proto over h2c with grpcio.

Compiles echo.proto at start (grpcio-tools) into a temporary directory, listens on
127.0.0.1 on a free port, prints `listening on PORT` and serves until killed. With
`--tls CERT KEY` it serves over TLS (ALPN h2) with that certificate instead. Each call
sends back the metadata `seen-apikey` (the `apikey` it received, or `none`) as initial
metadata and a trailer `echo-trailer: done`. When a client cancels a Chat call it prints
`cancelled TEXT` (TEXT: the call's first message), once, whichever way grpcio tells it:
the request iterator raising, the iterator ending with the call no longer active, or the
call's end callback.
"""

import os
import sys
import tempfile
import time
from concurrent import futures

import grpc
from grpc_tools import protoc

here = os.path.dirname(os.path.abspath(__file__))
out = tempfile.mkdtemp(prefix="keygate-grpc-")
if protoc.main(["protoc", f"-I{here}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.join(here, "echo.proto")]) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out)

import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402


def seen_key(context):
    return dict(context.invocation_metadata()).get("apikey", "none")


class Echo(echo_pb2_grpc.EchoServicer):
    def Unary(self, request, context):
        if request.text == "fail":
            # Before any metadata: a trailers-only answer.
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "fail was asked for")
        context.send_initial_metadata((("seen-apikey", seen_key(context)),))
        context.set_trailing_metadata((("echo-trailer", "done"),))
        return echo_pb2.Message(text=request.text[::-1])

    def Bidi(self, requests, context):
        context.send_initial_metadata((("seen-apikey", seen_key(context)),))
        context.set_trailing_metadata((("echo-trailer", "done"),))
        for request in requests:
            yield echo_pb2.Message(text=request.text.upper())

    def Chat(self, requests, context):
        call = {"first": None, "ended": False}

        def cancelled():
            # Once, and only for a call that did not end on its own: the client (or the
            # network) cancelled it. The request iterator raises when it sees that;
            # otherwise the call's end callback says so.
            if not call["ended"]:
                call["ended"] = True
                print(f"cancelled {call['first']}", flush=True)

        context.add_callback(cancelled)
        try:
            for request in requests:
                call["first"] = call["first"] or request.text
                if request.text == "hang-up":
                    call["ended"] = True
                    context.cancel()
                    return
                yield echo_pb2.Message(text=f"{request.text}:pong")
        except grpc.RpcError:
            cancelled()
            return
        # grpcio may end the request iterator as for a half-close when the call was
        # cancelled, before it notes the cancel: wait a moment for it.
        for _ in range(30):
            if not context.is_active():
                cancelled()
                return
            time.sleep(0.01)
        call["ended"] = True


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        with open(sys.argv[2], "rb") as cert, open(sys.argv[3], "rb") as key:
            credentials = grpc.ssl_server_credentials(((key.read(), cert.read()),))
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening on {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
