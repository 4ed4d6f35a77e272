"""A one-purpose DNS server for scripts/image: answers every A query for a
name under the zone given on the command line with 127.0.0.1, everything
else with NXDOMAIN, and exits after the time given. It lets the image test
prove that the static binary resolves names through /etc/resolv.conf (DNS),
not only through /etc/hosts. Standard library only."""

import socket
import struct
import sys
import time


def parse_name(packet, offset):
    labels = []
    while packet[offset]:
        length = packet[offset]
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii"))
        offset += 1 + length
    return ".".join(labels).lower(), offset + 1


def answer(packet, zone):
    ident, _flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        return None
    name, end = parse_name(packet, 12)
    qtype, _qclass = struct.unpack("!HH", packet[end : end + 4])
    question = packet[12 : end + 4]
    ours = name == zone or name.endswith("." + zone)
    if not ours:
        return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
    if qtype != 1:  # AAAA and the rest: the name exists, no such record
        return struct.pack("!HHHHHH", ident, 0x8180, 1, 0, 0, 0) + question
    record = struct.pack("!HHHLH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + question + record


def main():
    address, zone, seconds = sys.argv[1], sys.argv[2].lower(), float(sys.argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 53))
    sock.settimeout(0.5)
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            packet, peer = sock.recvfrom(512)
        except socket.timeout:
            continue
        reply = answer(packet, zone)
        if reply:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
