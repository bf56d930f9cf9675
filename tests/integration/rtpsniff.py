#!/usr/bin/env python3
"""rtpsniff.py: what goes over loopback to RTP ports, for srtp.sh (no tshark or
tcpdump needed: a packet socket on lo, which needs CAP_NET_RAW).

  rtpsniff.py capture OUT COUNT SECONDS LOW-HIGH...
      UDP datagrams over IPv4 on lo to a destination port in a range, one line
      each in OUT ("DPORT LENGTH HEXPAYLOAD"), until COUNT to even ports (RTP)
      in every range, or SECONDS; exit 0 when every range got COUNT, 1 if not.
  rtpsniff.py frame CAPTURE
      the most common RTP payload (after the 12-byte header) of the RTP
      packets in CAPTURE, as hex: in the clear, a 1000 Hz tone at 8 kHz sends
      the same 160 bytes in every packet.
  rtpsniff.py rawframe FILE
      the same for raw PCMU (a recording encoded again by mulawenc, which
      gives back the bytes that were sent): its most common 160-byte frame.
  rtpsniff.py check CAPTURE FRAMEHEX
      for the RTP packets in CAPTURE: how many, their lengths, and how many hold
      any 16 bytes of FRAMEHEX; exit 0 when none does.
"""
import collections
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_HOST = 0  # on lo each datagram is seen twice: outgoing, then incoming (host)


def ranges_of(args):
    out = []
    for a in args:
        lo, hi = a.split("-")
        out.append((int(lo), int(hi)))
    return out


def capture(out, count, seconds, ranges):
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind(("lo", 0))
    except PermissionError as e:
        print(f"rtpsniff: a packet socket on lo needs CAP_NET_RAW: {e}", file=sys.stderr)
        return 2
    s.settimeout(0.2)
    got = [0] * len(ranges)
    end = time.monotonic() + seconds
    with open(out, "w") as f:
        while time.monotonic() < end and min(got) < count:
            try:
                data, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] != PACKET_HOST or len(data) < 14 + 20 + 8:
                continue
            if struct.unpack("!H", data[12:14])[0] != 0x0800:
                continue
            ip = data[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8:
                continue
            dport = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0]
            payload = ip[ihl + 8:]
            for i, (lo, hi) in enumerate(ranges):
                if lo <= dport <= hi:
                    f.write(f"{dport} {len(payload)} {payload.hex()}\n")
                    if dport % 2 == 0:
                        got[i] += 1
    print(f"rtpsniff: RTP datagrams per range: {got}")
    return 0 if min(got) >= count else 1


def rtp_packets(path):
    with open(path) as f:
        for line in f:
            dport, length, hexp = line.split()
            if int(dport) % 2 == 0:
                yield int(dport), int(length), bytes.fromhex(hexp)


def most_common(frames, what):
    """Prints the most common of FRAMES as hex; 1 when there is none."""
    c = collections.Counter(frames)
    if not c:
        return 1
    payload, n = c.most_common(1)[0]
    print(payload.hex())
    print(f"rtpsniff: the most common {what} ({len(payload)} bytes) in {n} of {sum(c.values())}", file=sys.stderr)
    return 0


def frame(path):
    return most_common((p[12:] for _, _, p in rtp_packets(path) if len(p) > 12), "payload")


def rawframe(path):
    with open(path, "rb") as f:
        data = f.read()
    return most_common((data[i:i + 160] for i in range(0, len(data) - 159, 160)), "frame")


def check(path, framehex):
    f = bytes.fromhex(framehex)
    windows = {f[i:i + 16] for i in range(0, len(f) - 15)}
    total, clear, lengths = 0, 0, collections.Counter()
    for _, length, p in rtp_packets(path):
        total += 1
        lengths[length] += 1
        if any(p[i:i + 16] in windows for i in range(0, len(p) - 15)):
            clear += 1
    print(f"packets {total} lengths {dict(lengths)} clear {clear}")
    return 0 if total > 0 and clear == 0 else 1


def main(argv):
    if len(argv) >= 6 and argv[1] == "capture":
        return capture(argv[2], int(argv[3]), float(argv[4]), ranges_of(argv[5:]))
    if len(argv) == 3 and argv[1] == "frame":
        return frame(argv[2])
    if len(argv) == 3 and argv[1] == "rawframe":
        return rawframe(argv[2])
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
