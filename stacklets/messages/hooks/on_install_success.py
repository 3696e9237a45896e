"""First healthy start: the stack admin and the family's Matrix accounts.

Accounts are registered with the shared secret (admin API), so public registration stays off.
Idempotent: an account that exists is left alone. The admin's access token is kept as the
secret messages__ADMIN_ACCESS_TOKEN (bots and CLI commands use it).
"""

from stack_family import http_status, initial_password, is_admin, members
from _synapse import register, server_name


def run(ctx):
    api = ctx.env["SYNAPSE_API_URL"].rstrip("/")
    name = server_name(ctx)
    token = admin_token(ctx, api)
    if token is None:
        return
    auth = {"Authorization": f"Bearer {token}"}

    for user in members(ctx):
        localpart = user["id"]
        mxid = f"@{localpart}:{name}"
        try:
            ctx.http_get(f"{api}/_synapse/admin/v2/users/{mxid}", headers=auth)
            print(f"{mxid} already exists")
            continue
        except Exception as e:
            if http_status(e) != 404:
                raise
        first_password, secret_name = initial_password(ctx, user)
        ctx.step(f"Creating the Matrix account {mxid}")
        register(ctx, api, localpart, first_password, user.get("name") or localpart, is_admin(user))
        print(f"First password: {first_password} (kept as messages__{secret_name})")


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

    username, password = ctx.env["ADMIN_USER"], ctx.env["ADMIN_PASSWORD"]
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
        try:
            token = register(ctx, api, username, password, "Stack Admin", True)["access_token"]
        except Exception as e2:
            if http_status(e2) != 400:
                raise
            # M_USER_IN_USE: the admin exists but its password was changed by hand.
            ctx.warn(f"{username} exists but does not accept the stack admin password; family accounts were not created")
            return None
    ctx.secret("ADMIN_ACCESS_TOKEN", token)
    return token
