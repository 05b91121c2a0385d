#!/usr/bin/python3
"""Stand-ins for the remote hosts the detection e2e test needs, run inside the
network namespace the test creates (every address in it is local to that
namespace, so nothing leaves it): an HTTP responder on every TCP port given
(cloud metadata, API server, kubelet, mining pool, payload server), a listener
that hangs up (reverse shell peer, port 4444) and a DNS server on port 53 of
the given address that answers every A query with one address.

usage: fake_remote_services.py DNS_ADDR ANSWER_ADDR PAYLOAD_FILE PORT...
Prints "ready" once every socket listens; runs until killed."""
import socket
import struct
import sys
import threading
import time

dns_addr, answer, payload_file = sys.argv[1:4]
ports = [int(p) for p in sys.argv[4:]]
payload = open(payload_file, "rb").read()
HANG_UP_PORT = 4444


def serve_tcp(sock, port):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=answer_tcp, args=(conn, port), daemon=True).start()


def answer_tcp(conn, port):
    with conn:
        if port == HANG_UP_PORT:
            # The peer of a reverse shell: say nothing, then hang up so the
            # shell reads EOF and exits.
            time.sleep(0.3)
            return
        conn.settimeout(2)
        try:
            request = conn.recv(4096)
        except OSError:
            return
        body = payload if (b"/payload" in request or b"/agent" in request) else (
            b"true\n" if b"/script" in request else b"ok\n")
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def serve_dns(sock):
    while True:
        query, peer = sock.recvfrom(512)
        if len(query) < 12:
            continue
        qid, _, qdcount = struct.unpack("!HHH", query[:6])
        end = 12
        while end < len(query) and query[end] != 0:
            end += query[end] + 1
        question = query[12:end + 5]
        qtype = struct.unpack("!H", query[end + 1:end + 3])[0] if end + 3 <= len(query) else 0
        answers = b""
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton(answer)
        header = struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if answers else 0, 0, 0)
        sock.sendto(header + question + answers, peer)


for port in ports:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(64)
    threading.Thread(target=serve_tcp, args=(s, port), daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((dns_addr, 53))
threading.Thread(target=serve_dns, args=(udp,), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
