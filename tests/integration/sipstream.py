"""sipstream.py: whole SIP messages read off a TCP connection, for the small
phones and callers the integration scripts write in python (lib.sh puts this
directory on PYTHONPATH)."""
import sys


class Stream:
    """Reads one message at a time off @sock: the head up to the blank line,
    then the body by its Content-Length (or l:), kept apart from the next."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def read(self):
        """The next message's start line and headers as text; exits 1 when
        the peer closes first (the script's failure)."""
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65535)
            if not d:
                sys.exit(1)
            self.buf += d
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:") or line.lower().startswith(b"l:"):
                n = int(line.split(b":", 1)[1])
        while len(rest) < n:
            d = self.sock.recv(65535)
            if not d:
                sys.exit(1)
            rest += d
        self.buf = rest[n:]
        return head.decode(errors="replace")


def hdr(m, name):
    """The values of header @name (lower case, long form) in message head @m."""
    return [l.split(":", 1)[1].strip() for l in m.split("\r\n")[1:] if l.split(":", 1)[0].strip().lower() == name]
