"""First healthy start: the Forgejo admin and the family's accounts, through the `forgejo admin`
CLI inside the container.

The CLI must run as the `git` user (Forgejo refuses root) against the image's config file, so
every call is `su-exec git forgejo --config /data/gitea/conf/app.ini admin user …`.
Idempotent: `admin user list` is read first and existing users are left alone.
"""

from stack_family import initial_password, is_admin, members

CONTAINER = "stack-code-forgejo"
FORGEJO = ["su-exec", "git", "forgejo", "--config", "/data/gitea/conf/app.ini"]


def run(ctx):
    existing = list_users(ctx)

    admin = ctx.env["ADMIN_USER"]
    if admin.lower() in existing:
        print(f"Forgejo already has the admin {admin}")
    else:
        ctx.step(f"Creating the Forgejo admin {admin}")
        create(ctx, admin, ctx.env["ADMIN_EMAIL"], ctx.env["ADMIN_PASSWORD"], admin=True, must_change=False)

    for user in members(ctx):
        username = user["id"]
        if username.lower() in existing:
            print(f"{username} already has an account")
            continue
        address = user.get("email") or f"{username}@home.local"
        first_password, secret_name = initial_password(ctx, user)
        ctx.step(f"Creating the Forgejo account {username} for {user.get('name') or username}")
        create(ctx, username, address, first_password, admin=is_admin(user), must_change=True)
        print(f"First password: {first_password} (asked to change it on first sign-in; kept as code__{secret_name})")


def list_users(ctx):
    """Lower-cased user names from `forgejo admin user list` (a table: ID, Username, Email, …)."""
    output = ctx.exec(CONTAINER, FORGEJO + ["admin", "user", "list"])
    names = set()
    for line in (output or "").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names.add(fields[1].lower())
    return names


def create(ctx, username, email, password, admin, must_change):
    argv = FORGEJO + [
        "admin", "user", "create",
        "--username", username,
        "--email", email,
        "--password", password,
        f"--must-change-password={'true' if must_change else 'false'}",
    ]
    if admin:
        argv.append("--admin")
    ctx.exec(CONTAINER, argv)
