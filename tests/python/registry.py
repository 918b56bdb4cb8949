"""Python RPyC registries (UDP and TCP) for rdc's interop tests.

    python3 registry.py

starts a UDPRegistryServer and a TCPRegistryServer on free loopback ports
(listing allowed), prints "UDP_PORT TCP_PORT", and serves until stdin closes.
"""
import sys
import threading

from rpyc.utils.registry import TCPRegistryServer, UDPRegistryServer

udp = UDPRegistryServer(host="127.0.0.1", port=0, allow_listing=True)
tcp = TCPRegistryServer(host="127.0.0.1", port=0, allow_listing=True)
for server in (udp, tcp):
    threading.Thread(target=server.start, daemon=True).start()
print(udp.sock.getsockname()[1], tcp.sock.getsockname()[1], flush=True)
sys.stdin.read()
