"""First healthy start: the stack admin and the family's Matrix accounts.

Accounts are registered with the shared secret (admin API), so public registration stays off.
Idempotent: an account that exists is left alone, also when registration is the one that finds
out (M_USER_IN_USE). Names are lowercased everywhere, as Synapse does when it registers them.
The admin's access token is kept as the secret messages__ADMIN_ACCESS_TOKEN (bots and CLI
commands use it).
"""

from urllib.parse import quote

from stack_family import http_status, initial_password, is_admin, members
from _synapse import localpart, register, server_name


def run(ctx):
    api = ctx.env["SYNAPSE_API_URL"].rstrip("/")
    name = server_name(ctx)
    token = admin_token(ctx, api)
    if token is None:
        return
    auth = {"Authorization": f"Bearer {token}"}

    for user in members(ctx):
        local = localpart(user["id"])
        mxid = f"@{local}:{name}"
        if exists(ctx, api, mxid, auth):
            print(f"{mxid} already exists")
            continue
        first_password, secret_name = initial_password(ctx, user)
        ctx.step(f"Creating the Matrix account {mxid}")
        if register(ctx, api, local, first_password, user.get("name") or user["id"], is_admin(user)) is None:
            print(f"{mxid} already exists")
            continue
        print(f"First password: {first_password} (kept as messages__{secret_name})")


def exists(ctx, api, mxid, auth):
    try:
        ctx.http_get(f"{api}/_synapse/admin/v2/users/{quote(mxid)}", headers=auth)
        return True
    except Exception as e:
        if http_status(e) != 404:
            raise
        return False


def admin_token(ctx, api):
    """A working access token of the stack admin, registering the admin when it does not exist."""
    stored = ctx.secret("ADMIN_ACCESS_TOKEN")
    if stored:
        try:
            ctx.http_get(f"{api}/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {stored}"})
            return stored
        except Exception as e:
            if http_status(e) != 401:
                raise

    username, password = localpart(ctx.env["ADMIN_USER"]), ctx.env["ADMIN_PASSWORD"]
    try:
        token = ctx.http_post(
            f"{api}/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": username},
                "password": password,
                "initial_device_display_name": "stack",
            },
        )["access_token"]
    except Exception as e:
        if http_status(e) != 403:
            raise
        ctx.step(f"Creating the Matrix admin {username}")
        answer = register(ctx, api, username, password, "Stack Admin", True)
        if answer is None:
            # The admin exists but its password was changed by hand.
            ctx.warn(f"{username} exists but does not accept the stack admin password; family accounts were not created")
            return None
        token = answer["access_token"]
    ctx.secret("ADMIN_ACCESS_TOKEN", token)
    return token
