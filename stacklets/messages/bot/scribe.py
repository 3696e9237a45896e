"""scribe-bot: voice messages to text, in the thread of the voice message (docs/bots.md).

An `m.audio` message (or an `m.file` with an audio mimetype) in any room the bot is in is
downloaded from the homeserver's authenticated media endpoint, sent to the OpenAI-compatible
`POST {whisper_url}/audio/transcriptions` (multipart `file` + `model`), and the text is replied in
the voice message's thread. When the speech-to-text service does not answer or answers an error,
the reply says so. Invitations from anyone on the family's server are accepted.
"""

import asyncio
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request

from microbot import MicroBot

TIMEOUT = 300  # seconds; a long voice message on a small machine takes a while


class ScribeBot(MicroBot):
    def __init__(self, *, whisper_url=None, whisper_model="whisper-1", api=None, **kwargs):
        super().__init__(**kwargs)
        self.whisper_url = (whisper_url or "").rstrip("/")
        self.whisper_model = whisper_model

    async def on_invite(self, room_id, sender):
        """Anyone on the family's server may bring the scribe into a room."""
        if sender.endswith(":" + self.server_name):
            await self.client.join(room_id)

    async def on_file(self, room_id, sender, event):
        mimetype = (event.source.get("content", {}).get("info") or {}).get("mimetype") or ""
        if mimetype.startswith("audio/"):
            await self.on_audio(room_id, sender, event)

    async def on_audio(self, room_id, sender, event):
        content = event.source.get("content", {})
        relates = content.get("m.relates_to") or {}
        thread = relates.get("event_id") if relates.get("rel_type") == "m.thread" else event.event_id
        text = await self.transcribe(content)
        await self.send(room_id, text, reply_to=thread)

    async def transcribe(self, content):
        """The reply for one voice message: its text, or what went wrong."""
        if not self.whisper_url:
            return "I could not transcribe this: no speech-to-text service is configured ([ai].whisper_url)."
        try:
            audio = await asyncio.to_thread(self._download, content.get("url") or "")
        except (OSError, ValueError) as e:
            return f"I could not download this voice message ({_reason(e)})."
        info = content.get("info") or {}
        name = content.get("filename") or content.get("body") or "voice.ogg"
        try:
            status, answer = await asyncio.to_thread(
                self._post, audio, name, info.get("mimetype") or "application/octet-stream")
        except OSError as e:
            return f"I could not transcribe this: the speech-to-text service does not answer ({_reason(e)})."
        if status != 200:
            return f"I could not transcribe this: the speech-to-text service answered {status} ({answer[:200]})."
        try:
            text = str(json.loads(answer)["text"]).strip()
        except (ValueError, KeyError, TypeError):
            return f"I could not transcribe this: the speech-to-text service answered something that is not a transcription ({answer[:200]})."
        return text or "I heard no words in this voice message."

    def _download(self, mxc):
        """The media bytes through the authenticated endpoint (Synapse 1.111+ requires it)."""
        if not mxc.startswith("mxc://") or mxc.count("/") != 3:
            raise ValueError(f"not a media address: {mxc!r}")
        server, media = mxc[len("mxc://"):].split("/")
        url = (f"{self.homeserver}/_matrix/client/v1/media/download/"
               f"{urllib.parse.quote(server)}/{urllib.parse.quote(media)}")
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {self.client.access_token}"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.read()

    def _post(self, audio, name, mimetype):
        """POST the multipart form; (status, body text). Connection problems raise OSError."""
        boundary = "scribe-" + secrets.token_hex(12)
        safe = name.replace('"', "'").replace("\r", " ").replace("\n", " ")
        body = b"".join([
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            f"{self.whisper_model}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe}\"\r\n"
            f"Content-Type: {mimetype}\r\n\r\n".encode(),
            audio,
            f"\r\n--{boundary}--\r\n".encode(),
        ])
        request = urllib.request.Request(
            self.whisper_url + "/audio/transcriptions", data=body, method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return answer.status, answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"{error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error)
