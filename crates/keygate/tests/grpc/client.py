"""A gRPC client for keygate's tests: `client.py TARGET KEY [options]` calls TARGET
(host:port) with `apikey: KEY` in the metadata (none when KEY is `-`) and prints one JSON
line with what came back: statuses, messages, the initial metadata and the trailers.
Needs HTTP/2 on keygate's side (h2c, or TLS with `--ca`).

What it calls:
- by default Echo.Unary, and Echo.Bidi with three messages sent at once;
- `--pingpong N`: Echo.Chat, N rounds, each message sent only once the answer to the
  one before it came back (it gives up a round after 5 s and half-closes);
- `--cancel TAG`: Echo.Chat, sends TAG, waits for its answer, then cancels the call;
- `--hang-up`: Echo.Chat, sends `ping`, waits for its answer, then `hang-up`, on which
  the server cancels the call.

`--ca FILE` speaks TLS trusting the CA certificate in FILE, the server's certificate
checked for `--name` (default `localhost`).
"""

import argparse
import json
import os
import queue
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

here = os.path.dirname(os.path.abspath(__file__))
out = tempfile.mkdtemp(prefix="keygate-grpc-")
if protoc.main(["protoc", f"-I{here}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.join(here, "echo.proto")]) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out)

import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402

# How long each call may take, and each ping-pong round.
CALL_TIMEOUT = 15
ROUND_TIMEOUT = 5


def channel(args):
    if args.ca is None:
        return grpc.insecure_channel(args.target)
    with open(args.ca, "rb") as ca:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())
    options = (("grpc.ssl_target_name_override", args.name),)
    return grpc.secure_channel(args.target, credentials, options=options)


def failed(error):
    return {"code": error.code().name, "message": error.details()}


def unary_and_bidi(stub, metadata):
    report = {}
    try:
        reply, call = stub.Unary.with_call(echo_pb2.Message(text="hello"), metadata=metadata, timeout=CALL_TIMEOUT)
        report["unary"] = {"code": call.code().name, "text": reply.text,
                           "seen_apikey": dict(call.initial_metadata()).get("seen-apikey"),
                           "trailers": dict(call.trailing_metadata())}
    except grpc.RpcError as error:
        report["unary"] = failed(error)
    try:
        call = stub.Bidi(iter([echo_pb2.Message(text=t) for t in ("a", "b", "c")]), metadata=metadata,
                         timeout=CALL_TIMEOUT)
        texts = [reply.text for reply in call]
        report["bidi"] = {"code": call.code().name, "texts": texts,
                          "trailers": dict(call.trailing_metadata())}
    except grpc.RpcError as error:
        report["bidi"] = failed(error)
    return report


def pingpong(stub, metadata, rounds):
    """Each message goes only once the answer to the one before it is back."""
    answers = queue.Queue()
    sent = []

    def requests():
        for index in range(rounds):
            text = f"ping-{index}"
            sent.append(text)
            yield echo_pb2.Message(text=text)
            try:
                answers.get(timeout=ROUND_TIMEOUT)
            except queue.Empty:
                return

    started = time.monotonic()
    try:
        call = stub.Chat(requests(), metadata=metadata, timeout=CALL_TIMEOUT)
        texts = []
        for reply in call:
            texts.append(reply.text)
            answers.put(reply.text)
        report = {"code": call.code().name, "texts": texts, "trailers": dict(call.trailing_metadata())}
    except grpc.RpcError as error:
        report = failed(error)
    report["sent"] = len(sent)
    report["seconds"] = round(time.monotonic() - started, 3)
    return {"pingpong": report}


def cancel(stub, metadata, tag):
    """Sends `tag`, reads its answer, then cancels the call with the request still open."""
    never = queue.Queue()

    def requests():
        yield echo_pb2.Message(text=tag)
        # Never released: the request stays open (no half-close races the cancel); the
        # thread that reads this is a daemon, it does not keep the process.
        never.get(timeout=CALL_TIMEOUT)

    call = stub.Chat(requests(), metadata=metadata, timeout=CALL_TIMEOUT)
    report = {}
    try:
        report["first"] = next(call).text
        call.cancel()
        report["code"] = call.code().name
    except grpc.RpcError as error:
        report.update(failed(error))
    return {"cancel": report}


def hang_up(stub, metadata):
    """Sends `ping`, reads its answer, then `hang-up`: the server cancels the call."""
    answered = queue.Queue()

    def requests():
        yield echo_pb2.Message(text="ping")
        answered.get(timeout=ROUND_TIMEOUT)
        yield echo_pb2.Message(text="hang-up")

    call = stub.Chat(requests(), metadata=metadata, timeout=CALL_TIMEOUT)
    texts = []
    try:
        for reply in call:
            texts.append(reply.text)
            answered.put(None)
        report = {"code": call.code().name}
    except grpc.RpcError as error:
        report = failed(error)
    report["texts"] = texts
    return {"hang_up": report}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("key")
    parser.add_argument("--ca")
    parser.add_argument("--name", default="localhost")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--pingpong", type=int)
    what.add_argument("--cancel")
    what.add_argument("--hang-up", action="store_true")
    args = parser.parse_args()
    metadata = () if args.key == "-" else (("apikey", args.key),)
    stub = echo_pb2_grpc.EchoStub(channel(args))
    if args.pingpong is not None:
        report = pingpong(stub, metadata, args.pingpong)
    elif args.cancel is not None:
        report = cancel(stub, metadata, args.cancel)
    elif args.hang_up:
        report = hang_up(stub, metadata)
    else:
        report = unary_and_bidi(stub, metadata)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
