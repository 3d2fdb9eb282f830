"""A SOCKS5 proxy (RFC 1928) with username/password authentication (RFC
1929), CONNECT only, for test_session_proxy: Debian's dante-server checks a
credential against the system's accounts, which a test would have to make on
the host. It serves on a socket made elsewhere (inside the public test host's
namespace), connects from this process's namespace (the root one, which
reaches the public host), and records each request: the destination as the
client named it, and whether the credential was right."""
import socket
import struct
import threading


def _exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _pipe(source, sink):
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Socks5Upstream:
    def __init__(self, sock, user, password):
        self.sock, self.user, self.password = sock, user.encode(), password.encode()
        self.address, self.port = sock.getsockname()[:2]
        self.requests = []  # (destination "host:port", credential right)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            self._handshake(client)
        except (OSError, ConnectionError):
            client.close()

    def _handshake(self, client):
        _, count = _exactly(client, 2)
        methods = _exactly(client, count)
        if 2 not in methods:
            client.sendall(b"\x05\xff")
            return client.close()
        client.sendall(b"\x05\x02")
        _, length = _exactly(client, 2)
        user = _exactly(client, length)
        password = _exactly(client, _exactly(client, 1)[0])
        right = user == self.user and password == self.password
        client.sendall(b"\x01\x00" if right else b"\x01\x01")
        if not right:
            self.requests.append((None, False))
            return client.close()
        _, command, _, kind = _exactly(client, 4)
        if kind == 1:
            host = socket.inet_ntoa(_exactly(client, 4))
        elif kind == 3:
            host = _exactly(client, _exactly(client, 1)[0]).decode()
        else:
            client.sendall(b"\x05\x08\x00\x01" + bytes(6))
            return client.close()
        port = struct.unpack("!H", _exactly(client, 2))[0]
        self.requests.append((f"{host}:{port}", True))
        try:
            server = socket.create_connection((host, port), timeout=10)
        except OSError:
            client.sendall(b"\x05\x04\x00\x01" + bytes(6))
            return client.close()
        client.sendall(b"\x05\x00\x00\x01" + bytes(6))
        threading.Thread(target=_pipe, args=(server, client), daemon=True).start()
        _pipe(client, server)

    def close(self):
        self.sock.close()
