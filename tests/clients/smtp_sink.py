"""A test SMTP sink for aiosmtpd, and a reader for what it saved.

Serve:  PYTHONPATH=tests/clients python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.Sink DIR
        saves each received message as DIR/<n>.eml (written to a temporary name, then renamed).
Read:   python3 tests/clients/smtp_sink.py show FILE.eml
        prints JSON {"to", "from", "subject", "content_type", "text", "html"} with the parts decoded.
"""

import email
import email.policy
import itertools
import json
import os
import sys


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
    }))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "show":
        show(sys.argv[2])
    else:
        sys.exit(__doc__)
