"""First healthy start: an API token for the admin, then accounts for the family.

The superuser itself comes from PAPERLESS_ADMIN_USER/PASSWORD at container start. The token is
kept as the secret docs__API_TOKEN for bots and CLI commands; a stored token is verified first
(it may be stale after destroy + up) and only replaced when Paperless rejects it.
Members join the group "Family", which may view, add and change documents and their metadata.
"""

from urllib.parse import urlencode

from stack_family import http_status, initial_password, is_admin, members

FAMILY_GROUP = "Family"
FAMILY_PERMISSIONS = [
    f"{action}_{model}"
    for model in ("document", "tag", "correspondent", "documenttype", "storagepath",
                  "savedview", "note", "customfield", "sharelink")
    for action in ("view", "add", "change")
] + ["view_uisettings", "add_uisettings", "change_uisettings"]


def run(ctx):
    api = ctx.env["DOCS_API_URL"].rstrip("/")
    auth = {"Authorization": f"Token {api_token(ctx, api)}"}

    group = family_group(ctx, api, auth)
    existing = {u["username"].lower() for u in all_pages(ctx, f"{api}/users/?page_size=100", auth)}
    for user in members(ctx):
        if user["id"].lower() in existing:
            print(f"{user['id']} already has an account")
            continue
        first_password, secret_name = initial_password(ctx, user)
        ctx.step(f"Creating the Paperless account {user['id']} for {user.get('name') or user['id']}")
        body = {
            "username": user["id"],
            "first_name": user.get("name") or "",
            "email": user.get("email") or "",
            "password": first_password,
            "is_active": True,
            "is_staff": is_admin(user),
            "is_superuser": is_admin(user),
        }
        if group is not None and not is_admin(user):
            body["groups"] = [group]
        ctx.http_post(f"{api}/users/", body, headers=auth)
        print(f"First password: {first_password} (kept as docs__{secret_name})")


def api_token(ctx, api):
    existing = ctx.secret("API_TOKEN")
    if existing:
        try:
            ctx.http_get(f"{api}/documents/?page_size=1", headers={"Authorization": f"Token {existing}"})
            print("Stored API token still works")
            return existing
        except Exception as e:
            if http_status(e) not in (401, 403):
                raise
            ctx.step("Stored API token is no longer valid — obtaining a new one")

    ctx.step("Obtaining an API token")
    data = ctx.http_post(
        f"{api}/token/",
        urlencode({"username": ctx.env["ADMIN_USER"], "password": ctx.env["ADMIN_PASSWORD"]}),
    )
    ctx.secret("API_TOKEN", data["token"])
    print("API token saved as docs__API_TOKEN")
    return data["token"]


def family_group(ctx, api, auth):
    """The id of the "Family" group, created when missing; None when Paperless refuses it."""
    for group in all_pages(ctx, f"{api}/groups/?page_size=100", auth):
        if group.get("name") == FAMILY_GROUP:
            return group["id"]
    ctx.step(f"Creating the group {FAMILY_GROUP}")
    try:
        return ctx.http_post(
            f"{api}/groups/", {"name": FAMILY_GROUP, "permissions": FAMILY_PERMISSIONS}, headers=auth
        )["id"]
    except Exception as e:
        if http_status(e) != 400:
            raise
        ctx.warn(
            f"Paperless refused the group {FAMILY_GROUP} ({e}); members are created without "
            "permissions — grant them in Paperless under Settings › Users & Groups"
        )
        return None


def all_pages(ctx, url, headers):
    """Every result of a paginated Paperless list, following `next`."""
    results = []
    while url:
        page = ctx.http_get(url, headers=headers)
        results.extend(page.get("results") or [])
        url = page.get("next")
    return results
