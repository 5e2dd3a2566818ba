#!/usr/bin/env python3
"""tcp_relay.py: forwards TCP ports from one address to another, for the
network partition test (partition_test.sh).

  tcp_relay.py --listen ADDR --connect ADDR --ports P1,P2,...

Listens on ADDR:Pi for every port and relays each connection, both ways,
to the --connect address on the same port. The test runs one in the root
namespace (the veth address -> 127.0.0.1, where the brokers listen) and one
inside its namespace (127.0.0.1 -> the veth address), so an instance in the
namespace reaches the brokers at the very addresses they advertise, and
every byte crosses the veth pair the test cuts. Prints "ready" once
listening. Runs until killed.
"""
import argparse
import asyncio
import sys


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
        except (ConnectionError, OSError):
            pass


def handler(connect, port):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(connect, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    return handle


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--connect", required=True)
    p.add_argument("--ports", required=True)
    a = p.parse_args()
    servers = []
    for port in (int(x) for x in a.ports.split(",") if x):
        servers.append(await asyncio.start_server(handler(a.connect, port), a.listen, port))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
