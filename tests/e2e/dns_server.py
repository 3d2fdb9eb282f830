"""A tiny DNS server for tests: answers A queries for the names it is given
(NOERROR with no record for other types of those names, NXDOMAIN for any
other name), over UDP and TCP, and records every question it receives as
(transport, name, type). Its sockets are made inside an OtherHost's network
namespace; this process serves them, on threads of its own."""
import socket
import struct
import threading

from public_host import listening_socket_in
from corral_harness import in_network_at

TYPE_A = 1


def parse_question(query):
    """(name, qtype) of a query's first question."""
    labels, at = [], 12
    while query[at]:
        length = query[at]
        labels.append(query[at + 1:at + 1 + length].decode())
        at += 1 + length
    qtype = struct.unpack("!H", query[at + 1:at + 3])[0]
    return ".".join(labels).lower(), qtype, at + 5


def build_query(name, qtype=TYPE_A, query_id=0x4242):
    """A recursive query for `name` (what a stub resolver sends)."""
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", qtype, 1)


def answered_address(answer):
    """The address of the first A record in `answer`, or None."""
    _, _, end = parse_question(answer)
    if struct.unpack("!H", answer[6:8])[0] == 0:
        return None
    rdata_length = struct.unpack("!H", answer[end + 10:end + 12])[0]
    return socket.inet_ntoa(answer[end + 12:end + 12 + rdata_length])


class DnsServer:
    def __init__(self, host, names):
        """Serve `names` ({name: IPv4 address}) on host.client_address:53 inside OtherHost `host`."""
        self.names = {name.lower(): address for name, address in names.items()}
        self.questions = []
        self.address = host.client_address
        with in_network_at(f"/run/netns/{host.name}"):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((self.address, 53))
        self.tcp = listening_socket_in(host.name, self.address, 53)
        self.closing = False
        for serve in (self.serve_udp, self.serve_tcp):
            threading.Thread(target=serve, daemon=True).start()

    def answer(self, query, transport):
        name, qtype, end = parse_question(query)
        self.questions.append((transport, name, qtype))
        known = name in self.names
        records = b""
        if known and qtype == TYPE_A:
            records = (b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, 1, 60, 4) + socket.inet_aton(self.names[name]))
        flags = 0x8180 if known else 0x8183  # a response, recursion desired and available; NXDOMAIN when unknown
        header = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], flags, 1, 1 if records else 0, 0, 0)
        return header + query[12:end] + records

    def serve_udp(self):
        while not self.closing:
            try:
                query, asker = self.udp.recvfrom(4096)
                self.udp.sendto(self.answer(query, "udp"), asker)
            except (OSError, IndexError, struct.error):
                if self.closing:
                    return

    def serve_tcp(self):
        while not self.closing:
            try:
                connection, _ = self.tcp.accept()
            except OSError:
                return
            with connection:
                try:
                    while True:
                        length = connection.recv(2, socket.MSG_WAITALL)
                        if len(length) < 2:
                            break
                        query = connection.recv(struct.unpack("!H", length)[0], socket.MSG_WAITALL)
                        answer = self.answer(query, "tcp")
                        connection.sendall(struct.pack("!H", len(answer)) + answer)
                except (OSError, IndexError, struct.error):
                    pass

    def asked(self, name, transport=None):
        return [q for q in self.questions if q[1] == name.lower() and (transport is None or q[0] == transport)]

    def close(self):
        self.closing = True
        for sock in (self.udp, self.tcp):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
