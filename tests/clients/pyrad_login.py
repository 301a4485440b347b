#!/usr/bin/env python3
"""One VPN login against a RADIUS server with pyrad (https://pypi.org/project/pyrad/), as a NAS would send it.

Used by motpd's integration tests (tests/integration/external_clients.rs) as a RADIUS client that nobody on the
project wrote. It sends a PAP Access-Request with a Message-Authenticator, accepts only a reply whose Response
Authenticator and Message-Authenticator (required, and first, against BlastRADIUS) verify, and prints:

    code Access-Accept|Access-Reject|Access-Challenge
    reply-message <the Reply-Message attributes joined, UTF-8>     (if any)
    state <hex>                                                      (if any)
    attribute <name> <value>                                         (each other attribute, e.g. groups)

With --answer CODE it answers an Access-Challenge like NetScaler does: a new Access-Request with the code as
User-Password and the challenge's State; that reply is printed the same way, each line prefixed by "answer ".
--answer may be given twice (answer the first reply, then the second, e.g. "sms" and then the SMS code); "-"
reads that answer as one line from standard input after the previous reply was printed (a code sent by SMS).

Exit status: 0 the replies were the expected ones, 1 a reply was not the expected one, 2 no valid reply (timeout,
or a reply that failed verification), 3 bad arguments or dictionary.

Example:
    python3 tests/clients/pyrad_login.py 127.0.0.1 1812 testing123-long-secret alice Nurse2024123456 accept \
        --dictionary dictionaries
"""

import argparse
import glob
import os
import sys

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

MESSAGE_AUTHENTICATOR = 80
CODES = {
    "accept": packet.AccessAccept,
    "reject": packet.AccessReject,
    "challenge": packet.AccessChallenge,
}
NAMES = {
    packet.AccessAccept: "Access-Accept",
    packet.AccessReject: "Access-Reject",
    packet.AccessChallenge: "Access-Challenge",
}


class VerificationError(Exception):
    """A reply that pyrad accepted but that fails our stricter checks."""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("server", help="server address, e.g. 127.0.0.1")
    p.add_argument("port", type=int, help="authentication port")
    p.add_argument("secret", help="shared secret")
    p.add_argument("user", help="User-Name")
    p.add_argument("password", help="User-Password (password followed by the code, or the password alone)")
    p.add_argument("expect", choices=sorted(CODES), help="the expected reply")
    p.add_argument("--dictionary", required=True,
                   help="a FreeRADIUS dictionary file, or a directory whose dictionary.* files are all loaded")
    p.add_argument("--answer", action="append",
                   help="answer the expected Access-Challenge with this code (twice: two rounds; - : read stdin)")
    p.add_argument("--answer-expect", choices=sorted(CODES), default="accept",
                   help="the expected reply to the answer (default accept)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for a reply (sent once)")
    return p.parse_args()


def load_dictionary(path):
    files = sorted(glob.glob(os.path.join(path, "dictionary.*"))) if os.path.isdir(path) else [path]
    if not files:
        raise ValueError(f"no dictionary.* files in {path}")
    return Dictionary(*files)


def access(client, user, password, state=None, previous_id=None):
    """Sends one Access-Request and returns the verified reply and the request it answers."""
    req = client.CreateAuthPacket(code=packet.AccessRequest, User_Name=user)
    req.add_message_authenticator()
    # RFC 2865 §4.4: the answer to a challenge has a new Identifier.
    while req.id == previous_id:
        req.id = req.CreateID()
    req["User-Password"] = req.PwCrypt(password)
    if state is not None:
        req["State"] = state
    # SendPacket already drops replies whose authenticators do not verify (enforce_ma=True: an Access-* reply
    # without Message-Authenticator is dropped too); check again explicitly, so the test does not rely on it.
    reply = client.SendPacket(req)
    verify(client, req, reply)
    return req, reply


def verify(client, req, reply):
    raw = reply.raw_packet
    if not req.VerifyReply(reply, raw, enforce_ma=True):
        raise VerificationError("Response Authenticator or Message-Authenticator does not verify")
    if not reply.message_authenticator:
        raise VerificationError("the reply has no Message-Authenticator")
    if not reply.verify_message_authenticator(secret=client.secret, original_authenticator=req.authenticator,
                                              original_code=req.code):
        raise VerificationError("the reply's Message-Authenticator does not verify")
    if len(raw) < 21 or raw[20] != MESSAGE_AUTHENTICATOR:
        raise VerificationError("Message-Authenticator is not the reply's first attribute")


def show(reply, prefix=""):
    print(f"{prefix}code {NAMES.get(reply.code, reply.code)}")
    messages = reply.get("Reply-Message") or []
    if messages:
        print(f"{prefix}reply-message {''.join(messages)}")
    state = reply.get("State") or []
    if state:
        print(f"{prefix}state {state[0].hex()}")
    for name in reply.keys():
        if name not in ("Message-Authenticator", "Reply-Message", "State"):
            for value in reply[name]:
                text = value.hex() if isinstance(value, bytes) else value
                print(f"{prefix}attribute {name} {text}")


def main():
    args = parse_args()
    try:
        dictionary = load_dictionary(args.dictionary)
    except (OSError, ValueError) as e:
        print(f"cannot load the dictionary: {e}", file=sys.stderr)
        return 3
    client = Client(server=args.server, authport=args.port, secret=args.secret.encode(), dict=dictionary,
                    retries=1, timeout=args.timeout, enforce_ma=True)
    try:
        req, reply = access(client, args.user, args.password)
        show(reply)
        if reply.code != CODES[args.expect]:
            return 1
        for round_, text in enumerate(args.answer or []):
            if reply.code != packet.AccessChallenge:
                print("--answer needs an Access-Challenge", file=sys.stderr)
                return 1 if round_ else 3
            state = (reply.get("State") or [None])[0]
            if state is None:
                print("the Access-Challenge has no State", file=sys.stderr)
                return 1
            if text == "-":
                sys.stdout.flush()
                text = sys.stdin.readline().strip()
            req, reply = access(client, args.user, text, state=state, previous_id=req.id)
            show(reply, prefix="answer " * (round_ + 1))
        if not args.answer:
            return 0
        return 0 if reply.code == CODES[args.answer_expect] else 1
    except Timeout:
        print("no valid reply (timeout, or the reply failed verification)")
        return 2
    except VerificationError as e:
        print(f"invalid reply: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
