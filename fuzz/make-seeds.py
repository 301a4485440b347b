#!/usr/bin/env python3
"""Writes the seeds of corpus/radius_request and corpus/web_forms: inputs laid out as the targets read them with
`arbitrary::Unstructured` (one byte per small choice, taken modulo the number of choices; lengths as in the
targets), each a meaningful request sequence to start from. Run from fuzz/: python3 make-seeds.py"""
import os

AUTH = bytes(range(0x41, 0x51))


def blob(data, two_bytes=False):
    """A length-prefixed byte string (`text`/`bytes` in the targets); two length bytes when max > 255."""
    n = len(data)
    return (bytes([n >> 8, n & 0xFF]) if two_bytes else bytes([n])) + data


IDENTIFIERS = iter(range(1, 256))


def radius(name, client, ops, advance=1, sign=0):
    # Each seed its own Identifier: the duplicate cache answers the same client, Identifier and Request
    # Authenticator with the earlier reply.
    identifier = next(IDENTIFIERS)
    # advance: 0 none, 1 30 s, 2 16 min; client: 0 password-otp, 1 otp-only, 2 challenge, 3 no client;
    # sign: 0 Message-Authenticator with the client's secret, 2 with another secret, 3 none (raw).
    data = bytes([advance, client, identifier]) + AUTH + bytes([sign]) + b"".join(ops)
    write("radius_request", name, data)


USER = bytes([0])                          # User-Name nurse.chen


def user(choice):                          # " Nurse.Chen ", "NURSE.CHEN", dr.wang, clerk.lin, ""
    return bytes([1, choice])


def any_user(name):
    return bytes([2]) + blob(name)


def right(code_step=1, challenge_code=None):
    """The mode's right User-Password with the code of step -1/0/+1; the challenge mode's client also
    chooses between the code (True) and the password (False)."""
    choice = b"" if challenge_code is None else bytes([1 if challenge_code else 0])
    return bytes([3, code_step]) + choice


def wrong_code(code):
    return bytes([4]) + blob(code)


LAST_STATE = bytes([7])


def attr(op, value):
    return bytes([op]) + blob(value)


def write(target, name, data):
    with open(os.path.join("corpus", target, name), "wb") as f:
        f.write(data)


radius("password-otp-right.bin", 0, [USER, right()])
radius("password-otp-wrong-code.bin", 0, [USER, wrong_code(b"000000")])
radius("password-otp-upper-case-user.bin", 0, [user(1), right(2)])
radius("otp-only-no-message-authenticator.bin", 1, [USER, right()], sign=3)
radius("challenge-password.bin", 2, [USER, right(1, False)])
radius("challenge-answer.bin", 2, [USER, LAST_STATE, right(1, True)], advance=0)
radius("disabled-account.bin", 0, [user(3), right()])
radius("no-device-account.bin", 0, [user(2), right()])
radius("unknown-account.bin", 1, [any_user(b"nobody"), attr(5, b"123456")])
radius("unknown-client.bin", 3, [USER, right()])
radius("wrong-secret.bin", 0, [USER, right()], sign=2)
radius("user-name-twice.bin", 0, [USER, USER, right()])
radius("state-garbage.bin", 1, [USER, attr(8, b"\x00" * 32), right()])
radius("proxy-states-and-odd-attributes.bin", 0, [
    USER, right(), attr(9, b"proxy-1"), attr(9, b"proxy-2"), attr(11, b"\x0a\x00\x00\x09"),
    attr(12, b"\x00" * 18), bytes([13, 26]) + blob(b"\x00\x00\x0d\x24\x01\x05abc"), attr(10, b"\x01" * 16),
])
radius("raw-password.bin", 0, [USER, attr(6, b"Nurse.Chen2024!123456")])
radius("after-a-lockout-time.bin", 0, [USER, wrong_code(b"111111")], advance=2)
radius("password-twice.bin", 0, [USER, right(), wrong_code(b"222222")])

# web_forms: per request the route, the path parameter (0 activate, 1 reset, 2 a token-shaped string), a ratio
# byte for ?lang (1: none), the peer (0 inside, 1 outside, 2 the trusted proxy), ratio bytes for an odd
# content type, X-Forwarded-For and Accept-Language (1: none), a cookie byte (1: send the cookies set so far),
# then the body (two length bytes).
ROUTES = [
    "GET /enroll", "POST /enroll/login", "GET /enroll/device", "POST /enroll/device/start",
    "POST /enroll/device/confirm", "POST /enroll/logout", "GET /account/{p}", "POST /account/{p}",
    "GET /account/{p}/method", "POST /account/{p}/sms", "POST /account/{p}/sms/verify",
    "POST /account/{p}/app", "POST /account/{p}/helpdesk", "GET /account/{p}/password",
    "POST /account/{p}/password", "GET /invite/{p}", "POST /invite/{p}/unlock", "POST /invite/{p}/confirm",
    "POST /enroll/change/start", "POST /enroll/change/confirm",
]


def web(name, requests, advance=1):
    data = bytes([advance])
    for route, parameter, body, peer, *forwarded in requests:
        data += bytes([ROUTES.index(route), parameter, 1, peer, 1])
        data += (bytes([0]) + blob(forwarded[0])) if forwarded else bytes([1])
        data += bytes([1, 1]) + blob(body, two_bytes=True)
    write("web_forms", name, data)


LOGIN = b"csrf={csrf}&account=nurse.chen&password=Nurse.Chen2024!"
web("enroll-login.bin", [("GET /enroll", 0, b"", 0), ("POST /enroll/login", 0, LOGIN, 0),
                         ("GET /enroll/device", 0, b"", 0)])
web("enroll-no-device-start.bin", [
    ("GET /enroll", 0, b"", 0),
    ("POST /enroll/login", 0, b"csrf={csrf}&account=dr.wang&password=Nurse.Chen2024!", 0),
    ("GET /enroll/device", 0, b"", 0),
    ("POST /enroll/device/start", 0, b"csrf={csrf}&label=phone&device=totp", 0)])
web("enroll-phone-change.bin", [
    ("GET /enroll", 0, b"", 0), ("POST /enroll/login", 0, LOGIN, 0), ("GET /enroll/device", 0, b"", 0),
    ("POST /enroll/change/start", 0, b"csrf={csrf}&password=Nurse.Chen2024!&code={code}&label=new", 0),
    ("POST /enroll/change/confirm", 0, b"csrf={csrf}&device=x&code=123456", 0)])
web("enroll-wrong-password.bin", [("GET /enroll", 0, b"", 0),
                                  ("POST /enroll/login", 0, b"csrf={csrf}&account=nurse.chen&password=x", 0)])
web("enroll-outside.bin", [("GET /enroll", 0, b"", 1), ("POST /enroll/login", 0, LOGIN, 1)])
web("enroll-no-csrf.bin", [("POST /enroll/login", 0, b"account=nurse.chen&password=%zz&&==", 0)])
web("activate-identify.bin", [("GET /account/{p}", 0, b"", 0),
                              ("POST /account/{p}", 0, b"csrf={csrf}&account=new.hire", 0),
                              ("GET /account/{p}/method", 0, b"", 0),
                              ("POST /account/{p}/sms", 0, b"csrf={csrf}&phone=0912345678", 0)])
web("reset-with-app.bin", [("GET /account/{p}", 1, b"", 0),
                           ("POST /account/{p}", 1, b"csrf={csrf}&account=nurse.chen", 0),
                           ("POST /account/{p}/app", 1, b"csrf={csrf}&code={code}", 0),
                           ("GET /account/{p}/password", 1, b"", 0),
                           ("POST /account/{p}/password", 1,
                            b"csrf={csrf}&password=NewPassw0rd2026&confirm=NewPassw0rd2026", 0)])
web("reset-helpdesk.bin", [("GET /account/{p}", 1, b"", 0),
                           ("POST /account/{p}", 1, b"csrf={csrf}&account=dr.wang", 0),
                           ("POST /account/{p}/helpdesk", 1, b"csrf={csrf}&code=12345678&identity=A123456789", 0)])
web("invite-unknown-token.bin", [("GET /invite/{p}", 2, b"", 1),
                                 ("POST /invite/{p}/unlock", 2, b"csrf={csrf}&password=x", 1)])
web("proxy-forwarded.bin", [("GET /enroll", 0, b"", 2, b"10.1.2.3"),
                            ("POST /enroll/login", 0, LOGIN, 2, b"203.0.113.9, 10.1.2.3")])
