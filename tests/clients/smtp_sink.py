"""A test SMTP sink for aiosmtpd, and a reader for what it saved.

Serve:  PYTHONPATH=tests/clients python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.Sink DIR
        saves each received message as DIR/<n>.eml (written to a temporary name, then renamed).
Read:   python3 tests/clients/smtp_sink.py show FILE.eml
        prints JSON {"to", "from", "subject", "content_type", "text", "html", "inline"} with the parts decoded;
        "inline" lists the parts with a Content-ID: {"cid", "content_type", "disposition", "parent", "image"},
        where "image" is a PNG decoded here with zlib (an independent decoder): {"width", "height",
        "grey": base64 of one byte per pixel, 0 black to 255 white}.
"""

import base64
import email
import email.policy
import itertools
import json
import os
import struct
import sys
import zlib


class Sink:
    """aiosmtpd handler: one .eml file per message."""

    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("smtp_sink.Sink takes one argument: the directory for the .eml files")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(self.directory, "%d.eml" % next(self.counter))
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"


def decode_png(data):
    """Greyscale PNG (bit depth 1 or 8, no interlace) to (width, height, bytes); checks every CRC."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError("bad CRC in %r" % kind)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if colour != 0 or depth not in (1, 8) or interlace != 0:
        raise ValueError("unsupported PNG %r" % (header,))
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    rows, prev = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            a = row[i - 1] if i else 0
            b, c = prev[i], (prev[i - 1] if i else 0)
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(row)
        prev = row
    grey = bytearray()
    for row in rows:
        if depth == 8:
            grey += row[:width]
        else:
            grey += bytes(255 if row[x // 8] & (0x80 >> (x % 8)) else 0 for x in range(width))
    return width, height, bytes(grey)


def inline_parts(message):
    found = []
    for parent in message.walk():
        if not parent.is_multipart():
            continue
        for part in parent.iter_parts():
            cid = part["Content-ID"]
            if cid is None:
                continue
            entry = {
                "cid": str(cid).strip("<>"),
                "content_type": part.get_content_type(),
                "disposition": part.get_content_disposition(),
                "parent": parent.get_content_type(),
            }
            if part.get_content_type() == "image/png":
                width, height, grey = decode_png(part.get_content())
                entry["image"] = {"width": width, "height": height,
                                  "grey": base64.b64encode(grey).decode()}
            found.append(entry)
    return found


def show(path):
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    print(json.dumps({
        "to": str(message["To"]),
        "from": str(message["From"]),
        "subject": str(message["Subject"]),
        "content_type": message.get_content_type(),
        "text": text.get_content() if text else None,
        "html": html.get_content() if html else None,
        "inline": inline_parts(message),
    }))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "show":
        show(sys.argv[2])
    else:
        sys.exit(__doc__)
