"""stack messages users: every account on the family's Matrix server."""

HELP = "List the Matrix accounts: users"

import sys

import _matrix


def run(args, stacklet, config):
    if args:
        sys.exit("usage: stack messages users")
    ctx = stacklet
    tok = _matrix.token(ctx)
    users, start = [], "0"
    while start is not None:
        page = ctx.http_get(
            f"{_matrix.api(ctx)}/_synapse/admin/v2/users?from={start}&limit=100&guests=false",
            headers=_matrix.bearer(tok),
        )
        users += page.get("users", [])
        start = page.get("next_token")
    for u in sorted(users, key=lambda u: u["name"]):
        flags = [f for f, on in (("admin", u.get("admin")), ("deactivated", u.get("deactivated"))) if on]
        print("\t".join([u["name"], u.get("displayname") or "", ",".join(flags)]))
