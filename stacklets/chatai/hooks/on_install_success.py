"""First healthy start: the admin account (Open WebUI's first sign-up becomes admin), then an
account for every family member.

Idempotent: when Open WebUI already has users the hook signs in instead of signing up, and
members whose e-mail already has an account are left alone.
"""

from stack_family import http_status, initial_password, is_admin, members


def run(ctx):
    api = ctx.env["CHATAI_API_URL"].rstrip("/")
    email, password = ctx.env["ADMIN_EMAIL"], ctx.env["ADMIN_PASSWORD"]

    # `onboarding` is true while Open WebUI has no user at all.
    if ctx.http_get(f"{api}/api/config").get("onboarding"):
        ctx.step(f"Creating the Open WebUI admin {email}")
        session = ctx.http_post(
            f"{api}/api/v1/auths/signup",
            {"name": ctx.env.get("ADMIN_NAME") or "Stack Admin", "email": email, "password": password},
        )
    else:
        try:
            session = ctx.http_post(f"{api}/api/v1/auths/signin", {"email": email, "password": password})
            print(f"Open WebUI already has the admin {email}")
        except Exception as e:
            if http_status(e) not in (400, 401, 403):
                raise
            ctx.warn(
                f"Cannot sign in to Open WebUI as {email}: its admin was created by hand. "
                "Family accounts were not created; add them under Admin Panel › Users."
            )
            return
    auth = {"Authorization": f"Bearer {session['token']}"}

    existing = {u.get("email", "").lower() for u in list_users(ctx, api, auth)}
    for user in members(ctx):
        address = user.get("email")
        if not address:
            ctx.warn(f"users.toml: {user['id']} has no email; Open WebUI signs in with one")
            continue
        if address.lower() in existing:
            print(f"{address} already has an account")
            continue
        first_password, secret_name = initial_password(ctx, user)
        ctx.step(f"Creating the Open WebUI account for {user.get('name') or user['id']} <{address}>")
        ctx.http_post(
            f"{api}/api/v1/auths/add",
            {
                "name": user.get("name") or user["id"],
                "email": address,
                "password": first_password,
                "role": "admin" if is_admin(user) else "user",
            },
            headers=auth,
        )
        print(f"First password: {first_password} (kept as chatai__{secret_name})")


def list_users(ctx, api, auth):
    """All users; newer Open WebUI answers {"users": [...], "total": n}, older a plain list."""
    answer = ctx.http_get(f"{api}/api/v1/users/", headers=auth)
    if isinstance(answer, dict):
        return answer.get("users") or []
    return answer or []
