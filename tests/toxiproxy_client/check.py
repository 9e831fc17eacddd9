"""Drives `drdrill proxy` with the unchanged third-party client toxiproxy-python (PyPI).

Usage: check.py API_HOST API_PORT UPSTREAM_HOST:PORT   (UPSTREAM is an echo server)
Run by tests/proxy.rs; prints "toxiproxy-python: all checks passed" on success.
"""
import socket
import sys
import time

from toxiproxy import Toxiproxy


def rtt(addr):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        start = time.monotonic()
        s.sendall(b"ping\n")
        got = b""
        while len(got) < 5:
            chunk = s.recv(5 - len(got))
            assert chunk, "connection closed before the echo"
            got += chunk
        assert got == b"ping\n", got
        return time.monotonic() - start


def refused(addr):
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return False
    except OSError:
        return True


def main():
    api_host, api_port, upstream = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = Toxiproxy()
    server.update_api_consumer(api_host, api_port)
    assert server.running(), "API not reachable"
    version = server.version()
    assert b"2." in version, version

    proxy = server.create(upstream=upstream, name="py-echo", listen="127.0.0.1:0")
    assert proxy.enabled and proxy.upstream == upstream
    assert "py-echo" in server.proxies()
    addr = proxy.listen
    assert rtt(addr) < 0.1

    proxy.add_toxic(type="latency", attributes={"latency": 200})
    toxics = proxy.toxics()
    assert list(toxics) == ["latency_downstream"], toxics
    assert toxics["latency_downstream"].attributes["latency"] == 200
    took = rtt(addr)
    assert 0.19 <= took <= 0.5, "rtt %.3f s with a 200 ms latency toxic" % took

    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}
    assert rtt(addr) < 0.1

    with proxy.down():
        assert refused(addr), "a disabled proxy must refuse connections"
    assert rtt(addr) < 0.1

    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
    assert server.reset()
    assert server.get_proxy("py-echo").toxics() == {}

    made = server.populate([{"name": "py-two", "upstream": upstream, "listen": "127.0.0.1:0"}])
    assert [p.name for p in made] == ["py-two"]

    try:
        proxy.add_toxic(type="frobnicate")
        raise AssertionError("an invalid toxic type must be refused")
    except Exception as e:  # toxiproxy.exceptions.InvalidToxic
        assert type(e).__name__ == "InvalidToxic", repr(e)

    server.destroy_all()
    assert server.proxies() == {}
    print("toxiproxy-python: all checks passed")


if __name__ == "__main__":
    main()
