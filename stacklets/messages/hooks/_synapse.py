"""Synapse helpers shared by the messages hooks: the server name, the files Synapse and Element
read (written directly, no `generate` run), and registration through the shared-secret admin API.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import string

DEFAULT_SERVER_NAME = "home"
# Matrix server names: a host name (or IP literal) with an optional port.
SERVER_NAME = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def server_name(ctx):
    """`[messages].server_name` as on_configure stored it; the rendered env only as a fallback,
    because the .env of a first run may have been rendered before on_configure wrote it."""
    return ctx.cfg("server_name") or ctx.env.get("MESSAGES_SERVER_NAME") or DEFAULT_SERVER_NAME


def valid_server_name(value):
    return bool(SERVER_NAME.match(value or ""))


def write_files(ctx):
    """homeserver.yaml, the signing key, the media store and Element's config.json. Idempotent:
    an unchanged file is not rewritten, the signing key is never replaced."""
    name = server_name(ctx)
    if not valid_server_name(name):
        raise ValueError(f"[messages].server_name `{name}` is not a valid Matrix server name")
    data = ctx.env["SYNAPSE_DATA_DIR"]
    media = os.path.join(data, "media_store")
    os.makedirs(media, exist_ok=True)

    key = os.path.join(data, "signing.key")
    if not os.path.exists(key):
        ctx.step("Creating the Synapse signing key")
        _write(key, signing_key())
    # Private to the person running `stack`; the container hands them to Synapse's uid 991.
    os.chmod(data, 0o711)

    changed = _write(os.path.join(data, "homeserver.yaml"), homeserver_yaml(ctx, name))
    element = ctx.env["ELEMENT_CONFIG_FILE"]
    os.makedirs(os.path.dirname(element), exist_ok=True)
    changed |= _write(element, element_config(ctx, name), mode=0o644)
    return changed


def signing_key():
    """A Synapse/signedjson ed25519 key file: `ed25519 <version> <unpadded base64 of the seed>`."""
    version = "a_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(4))
    seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    return f"ed25519 {version} {seed}\n"


def homeserver_yaml(ctx, name):
    e = ctx.env
    q = json.dumps  # a JSON string is a valid double-quoted YAML scalar
    public = e["SYNAPSE_PUBLIC_URL"].rstrip("/") + "/"
    return f"""# Written by stacklets/messages/hooks/_synapse.py on every `stack up messages`.
# Edits are overwritten; change stack.toml or the hook instead.
server_name: {q(name)}
public_baseurl: {q(public)}
report_stats: false

listeners:
  - port: 8008
    type: http
    tls: false
    bind_addresses: ["0.0.0.0"]
    x_forwarded: true
    resources:
      - names: [client, federation]
        compress: false

database:
  name: psycopg2
  args:
    user: {q(e["DB_USER"])}
    password: {q(e["DB_PASSWORD"])}
    dbname: {q(e["DB_NAME"])}
    host: "stack-messages-db"
    port: 5432
    cp_min: 5
    cp_max: 10

media_store_path: "/data/media_store"
max_upload_size: "100M"
signing_key_path: "/data/signing.key"

registration_shared_secret: {q(e["REGISTRATION_SHARED_SECRET"])}
macaroon_secret_key: {q(e["MACAROON_SECRET_KEY"])}
form_secret: {q(e["FORM_SECRET"])}

# A family server: accounts are made by `stack`, nobody signs up, nothing federates.
enable_registration: false
federation_domain_whitelist: []
trusted_key_servers: []
suppress_key_server_warning: true
url_preview_enabled: false
"""


def element_config(ctx, name):
    config = {
        "default_server_config": {
            "m.homeserver": {
                "base_url": ctx.env["SYNAPSE_PUBLIC_URL"].rstrip("/"),
                "server_name": name,
            }
        },
        "brand": "Element",
        "disable_custom_urls": True,
        "disable_guests": True,
        "room_directory": {"servers": [name]},
        "setting_defaults": {"UIFeature.registration": False, "UIFeature.passwordReset": False},
    }
    return json.dumps(config, indent=2) + "\n"


def _write(path, text, mode=0o600):
    """Write atomically when the content differs; True when it did.

    The container hands homeserver.yaml and the signing key to Synapse's uid 991 at every start,
    so a `stack` running as an ordinary user cannot read them back afterwards. What was written
    is therefore compared by its digest, kept beside the file (only the person running `stack`
    can read it, and a digest of random secrets reveals nothing). The rename needs only the
    folder, which stays the person's own.
    """
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    folder, name = os.path.split(path)
    digest_path = os.path.join(folder, f".{name}.sha256")
    try:
        with open(digest_path, encoding="utf-8") as f:
            if f.read().strip() == digest and os.path.exists(path):
                return False
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    with open(digest_path, "w", encoding="utf-8") as f:
        f.write(digest + "\n")
    os.chmod(digest_path, 0o600)
    print(f"Wrote {path}")
    return True


def localpart(user_id):
    """The Matrix localpart for a users.toml id or the admin's name. Synapse lowercases names
    when it registers them, so every lookup, login and registration uses the lowercase form."""
    return user_id.strip().lower()


def errcode(error):
    """The Matrix `errcode` of a failed ctx.http_* call (M_USER_IN_USE, …), None without one."""
    try:
        return json.loads(getattr(error, "body", None) or "{}").get("errcode")
    except (ValueError, AttributeError):
        return None


def register(ctx, api, username, password, displayname, admin):
    """Register through /_synapse/admin/v1/register with the shared-secret HMAC-SHA1 nonce flow.

    Returns Synapse's answer (with `access_token`), or None when the name is already taken
    (M_USER_IN_USE): the account exists, which is what the caller wanted.
    """
    endpoint = f"{api}/_synapse/admin/v1/register"
    username = localpart(username)
    nonce = ctx.http_get(endpoint)["nonce"]
    mac = hmac.new(ctx.env["REGISTRATION_SHARED_SECRET"].encode("utf-8"), digestmod=hashlib.sha1)
    for part in (nonce, username, password):
        mac.update(part.encode("utf-8"))
        mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    try:
        return ctx.http_post(
            endpoint,
            {
                "nonce": nonce,
                "username": username,
                "displayname": displayname,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
    except Exception as e:
        if errcode(e) == "M_USER_IN_USE":
            return None
        raise
