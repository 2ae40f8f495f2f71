"""Carry TCP from inside the node's network namespace to the API server on the host's loopback.

The control plane listens on 127.0.0.1 only; the real node and its pods live in a network
namespace of their own and cannot reach the host's loopback. This process opens its listening
socket inside that namespace (setns for the duration of socket() + bind()), switches back, and
dials 127.0.0.1:<port> on the host for every connection. TLS passes through untouched.

usage: apiproxy.py NETNS_PATH LISTEN_HOST LISTEN_PORT UPSTREAM_PORT
"""
import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def listen_in(netns_path, host, port):
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        setns(target)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(256)
        sock.setblocking(False)
    finally:
        setns(own)
        os.close(target)
        os.close(own)
    return sock


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main():
    netns_path, host, port, upstream = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sock = listen_in(netns_path, host, port)

    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, sock=sock)
    print(f"apiproxy: {host}:{port} in {netns_path} -> 127.0.0.1:{upstream}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
