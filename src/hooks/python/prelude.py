"""Runtime support that `stack` loads into its embedded interpreter before running a hook or a CLI command.

It keeps the interpreter's global state (sys.stdout/stderr/argv/path/modules) per run: a `Session`
installs the run's view and puts everything back afterwards, so one stacklet's helper modules never
leak into the next run. The Rust side (src/hooks/python/) provides the callables in `ctx`.
"""

import io
import os
import sys
import traceback
import types


class AttrDict(dict):
    """A dict whose keys are also attributes, so `ctx.env.X`, `ctx["env"]["X"]` and mixes all work."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no key {name!r}") from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"no key {name!r}") from None


def wrap(value):
    """Nested dicts (also inside lists) become AttrDicts; everything else is left alone."""
    if isinstance(value, dict):
        return AttrDict((k, wrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


class CommandError(RuntimeError):
    """`ctx.shell` or `ctx.exec` exited non-zero: `.code` is the exit code, `.output` its output."""

    def __init__(self, message, code, output):
        super().__init__(message)
        self.code = code
        self.output = output


class HttpError(RuntimeError):
    """An HTTP call answered with a non-2xx status: `.status` and `.body` (text) tell what."""

    def __init__(self, message, status, body):
        super().__init__(message)
        self.status = status
        self.body = body


class LineWriter(io.TextIOBase):
    """Replaces sys.stdout/sys.stderr: hands every complete line to `emit`.

    The interpreter is never finalized and block-buffers a non-terminal stdout, so without this
    print() output would be lost whenever `stack`'s stdout is a pipe or a file.
    """

    def __init__(self, emit):
        self._emit = emit
        self._pending = ""

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._emit(line.rstrip("\r"))
        return len(text)

    def flush(self):
        pass

    def drain(self):
        """Emit a last line that never got its newline."""
        if self._pending:
            line, self._pending = self._pending, ""
            self._emit(line)


def _exit_in_hook(pid, real_exit):
    """`os._exit` inside a run: the real one would end the whole `stack` process without a word, so
    in the process that runs the hook it ends the hook as `sys.exit(code)` would. A forked child
    (multiprocessing) gets the real one."""

    def _exit(code):
        if os.getpid() != pid:
            real_exit(code)
        raise SystemExit(code)

    return _exit


class Session:
    """One hook or command run's view of the interpreter's global state."""

    def __init__(self, root, path_entries, argv, ctx, out, err):
        self._root = os.path.join(os.path.abspath(root), "")
        self._path_entries = list(path_entries)
        self._argv = argv
        self._ctx = ctx
        self._out = LineWriter(out)
        self._err = LineWriter(err)
        self._saved = None

    def enter(self):
        self._saved = (sys.stdout, sys.stderr, sys.argv, list(sys.path), set(sys.modules), os._exit)
        os._exit = _exit_in_hook(os.getpid(), os._exit)
        sys.stdout, sys.stderr = self._out, self._err
        sys.argv = list(self._argv)
        sys.path[0:0] = self._path_entries
        # `import stack` gives module-level code (CLI commands without run()) the same facilities.
        module = types.ModuleType("stack", "Facilities of the running stack hook or command.")
        module.ctx = self._ctx
        module.CommandError = CommandError
        module.HttpError = HttpError
        sys.modules["stack"] = module

    def leave(self):
        self._out.drain()
        self._err.drain()
        stdout, stderr, argv, path, modules, real_exit = self._saved
        os._exit = real_exit
        sys.stdout, sys.stderr, sys.argv = stdout, stderr, argv
        sys.path[:] = path
        # Forget modules this run imported from the stacklet (its hook, `_helpers.py`, …): another
        # stacklet's file of the same name must not be served from the cache.
        for name in set(sys.modules) - modules:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if name == "stack" or os.path.abspath(file).startswith(self._root):
                del sys.modules[name]


def describe(exc, tb, path, keep=5):
    """(exception text, last `keep` frames of `tb` as a traceback, line in `path`) for a HookError."""
    only = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    frames = traceback.extract_tb(tb) if tb is not None else []
    line = None
    for frame in frames:
        if frame.filename == path:
            line = frame.lineno
    if line is None and isinstance(exc, SyntaxError) and exc.filename == path:
        line = exc.lineno
    text = ""
    if frames:
        text = "Traceback (most recent call last):\n"
        if len(frames) > keep:
            text += f"  … {len(frames) - keep} earlier frames\n"
        text += "".join(traceback.format_list(frames[-keep:]))
    return only, text.rstrip(), line
