"""Family accounts: who gets one on a stacklet, and the first password each one gets.

Shared by the hooks of every stacklet that creates accounts: it lives in the repo's `lib/`, which
the runtime puts on every hook's and command's sys.path. Admins in users.toml get an
account everywhere; members and restricted users only where their `stacklets` list names this id.
"""

import re
import secrets
import string


def members(ctx):
    """users.toml entries that get an account on this stacklet, in file order."""
    sid = ctx.stacklet_id
    return [
        u for u in (ctx.users or [])
        if u.get("role") == "admin" or sid in (u.get("stacklets") or [])
    ]


def is_admin(user):
    return user.get("role") == "admin"


def initial_password(ctx, user):
    """(password, secret name): generated once, kept in secrets.toml as `<id>__USER_<ID>_PASSWORD`."""
    name = "USER_" + re.sub(r"[^A-Za-z0-9]", "_", user["id"]).upper() + "_PASSWORD"
    password = ctx.secret(name)
    if not password:
        # Same shape as the admin password: typed on phones.
        alphabet = string.ascii_lowercase + string.digits
        password = "".join(secrets.choice(alphabet) for _ in range(10))
        ctx.secret(name, password)
    return password, name


def http_status(error):
    """The HTTP status of a failed ctx.http_* call, None when it never got an answer."""
    return getattr(error, "status", None)
