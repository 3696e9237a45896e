"""First healthy start: the Immich admin account, then an account for every family member.

Idempotent: an instance that already has an admin is not signed up again, and members whose
e-mail already has an account are left alone.
"""

from stack_family import http_status, initial_password, is_admin, members


def run(ctx):
    api = ctx.env["PHOTOS_API_URL"].rstrip("/")
    email = ctx.env["ADMIN_EMAIL"]
    password = ctx.env["ADMIN_PASSWORD"]

    config = ctx.http_get(f"{api}/server/config")
    if config.get("isInitialized"):
        print("Immich already has an admin")
    else:
        ctx.step(f"Creating the Immich admin {email}")
        try:
            ctx.http_post(
                f"{api}/auth/admin-sign-up",
                {"email": email, "password": password, "name": ctx.env.get("ADMIN_NAME") or "Stack Admin"},
            )
        except Exception as e:
            # "The server already has an admin": someone signed up between the check and now.
            if http_status(e) != 400:
                raise
            print("Immich already has an admin")

    try:
        login = ctx.http_post(f"{api}/auth/login", {"email": email, "password": password})
    except Exception as e:
        if http_status(e) not in (400, 401):
            raise
        ctx.warn(
            f"Cannot sign in to Immich as {email}: the admin was created by hand with other "
            "credentials. Family accounts were not created; add them in Immich's admin settings."
        )
        return
    auth = {"Authorization": f"Bearer {login['accessToken']}"}

    existing = {u.get("email", "").lower() for u in ctx.http_get(f"{api}/admin/users", headers=auth)}
    for user in members(ctx):
        address = user.get("email")
        if not address:
            ctx.warn(f"users.toml: {user['id']} has no email; Immich needs one to sign in")
            continue
        if address.lower() in existing:
            print(f"{address} already has an account")
            continue
        first_password, secret_name = initial_password(ctx, user)
        ctx.step(f"Creating the Immich account for {user.get('name') or user['id']} <{address}>")
        ctx.http_post(
            f"{api}/admin/users",
            {
                "email": address,
                "name": user.get("name") or user["id"],
                "password": first_password,
                "isAdmin": is_admin(user),
                "shouldChangePassword": True,
            },
            headers=auth,
        )
        print(f"First password: {first_password} (asked to change it on first sign-in; kept as photos__{secret_name})")
