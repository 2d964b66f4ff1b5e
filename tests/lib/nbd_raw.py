"""A raw NBD client (the protocol's bytes by hand, no library), for tests that need to
control exactly which requests are in flight on one connection and in what order the
replies come back: fixed newstyle handshake, NBD_OPT_GO, then simple requests/replies.
Layout from the NBD protocol document (proto.md)."""
import socket
import struct

NBD_MAGIC = 0x4E42444D41474943          # "NBDMAGIC"
IHAVEOPT = 0x49484156454F5054           # "IHAVEOPT"
OPT_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
FLAG_FIXED_NEWSTYLE = 1
FLAG_C_FIXED_NEWSTYLE = 1
FLAG_C_NO_ZEROES = 2
OPT_GO = 7
REP_ACK = 1
REP_INFO = 3
INFO_EXPORT = 0

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3


class Client:
    def __init__(self, sock_path, export="", timeout=60.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(sock_path)
        magic, opt, flags = struct.unpack(">QQH", self._recv(18))
        assert magic == NBD_MAGIC and opt == IHAVEOPT, "not an NBD newstyle server"
        assert flags & FLAG_FIXED_NEWSTYLE, "server is not fixed newstyle"
        self.s.sendall(struct.pack(">I", FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES))
        name = export.encode()
        data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
        self.s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, len(data)) + data)
        self.size = None
        while True:
            rmagic, ropt, rtype, rlen = struct.unpack(">QIII", self._recv(20))
            assert rmagic == OPT_REPLY_MAGIC and ropt == OPT_GO, "bad option reply"
            payload = self._recv(rlen)
            if rtype == REP_ACK:
                break
            if rtype == REP_INFO and struct.unpack(">H", payload[:2])[0] == INFO_EXPORT:
                self.size, self.tflags = struct.unpack(">QH", payload[2:12])
            elif rtype & (1 << 31):
                raise AssertionError(f"NBD_OPT_GO refused: type {rtype:#x} {payload!r}")

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf

    def send(self, cmd, handle, offset=0, length=0, data=b""):
        """Sends one request (data: a WRITE's payload) without waiting for its reply."""
        if cmd == CMD_WRITE:
            length = len(data)
        self.s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, cmd, handle, offset, length) + data)

    def reply(self, read_lengths):
        """Receives the next simple reply -> (handle, error, payload); read_lengths maps
        the handles of READs in flight to their lengths."""
        magic, error, handle = struct.unpack(">IIQ", self._recv(16))
        assert magic == SIMPLE_REPLY_MAGIC, f"bad reply magic {magic:#x}"
        payload = self._recv(read_lengths.get(handle, 0)) if error == 0 else b""
        return handle, error, payload

    def close(self):
        try:
            self.send(CMD_DISC, 0)
        finally:
            self.s.close()
