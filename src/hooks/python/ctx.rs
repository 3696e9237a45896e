//! The `ctx` object a Python hook receives: a prelude `AttrDict` holding the stacklet's data
//! (`env`, `stacklet_id`, `users`, …) and Rust callables (`secret`, `shell`, `http_get`, …).
//!
//! Because the callables are dict items, `ctx.secret(…)` and `ctx["secret"](…)` are the same object
//! and no Python frame sits between the hook and Rust (tracebacks end at the hook's own line).
//! Every callable that waits (processes, HTTP, the host) releases the interpreter first
//! (`py.detach`) and runs async work with the captured runtime handle's `block_on`; this thread is
//! a blocking-pool thread, so that never stalls a runtime worker.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCFunction, PyDict, PyList, PyModule, PyString, PyTuple};

use super::{json_to_py, py_to_json};
use crate::hooks::shell::{describe_status, stream_hook_command};
use crate::hooks::{HookContext, HookHost};
use crate::output::Printer;

/// How long one HTTP call from a hook may take; APIs that mint tokens can be slow on first start.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error response body goes into the exception message.
const BODY_SNIPPET_CHARS: usize = 300;

/// What the callables share; one per run.
pub(super) struct Facilities {
    host: Arc<dyn HookHost>,
    printer: Printer,
    handle: tokio::runtime::Handle,
    client: reqwest::Client,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
}

impl Facilities {
    pub(super) fn new(
        ctx: &HookContext,
        host: Arc<dyn HookHost>,
        printer: Printer,
        handle: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_CONNECT_TIMEOUT)
            .build()
            .unwrap_or_default();
        Arc::new(Self {
            host,
            printer,
            handle,
            client,
            env: ctx.hook_env(),
            cwd: ctx.stacklet_dir.clone(),
        })
    }
}

type Callback = fn(&Facilities, Python<'_>, Args<'_>) -> PyResult<Py<PyAny>>;

/// Build `ctx`. `ctx.env` includes the runtime's own variables (`FAMSTACK_DATA_DIR`, …) because
/// the bundled stacklets' hooks read them from there.
pub(super) fn build<'py>(
    py: Python<'py>,
    prelude: &Bound<'py, PyModule>,
    ctx: &HookContext,
    facilities: Arc<Facilities>,
) -> PyResult<Bound<'py, PyAny>> {
    let data = PyDict::new(py);
    data.set_item("stacklet_id", &ctx.stacklet_id)?;
    data.set_item("id", &ctx.stacklet_id)?;
    data.set_item("dir", ctx.stacklet_dir.display().to_string())?;
    data.set_item("data_dir", ctx.data_dir.display().to_string())?;
    data.set_item("domain", &ctx.domain)?;
    data.set_item("env", facilities.env.clone().into_pyobject(py)?)?;
    let users = if ctx.users.is_null() {
        PyList::empty(py).into_any()
    } else {
        json_to_py(py, &ctx.users)?
    };
    data.set_item("users", users)?;
    let callbacks: [(
        &'static std::ffi::CStr,
        &'static [&'static str],
        usize,
        Callback,
    ); 9] = [
        (c"secret", &["name", "value"], 1, secret),
        (c"step", &["msg"], 1, step),
        (c"warn", &["msg"], 1, warn),
        (c"shell", &["cmd"], 1, shell),
        (c"exec", &["container", "argv"], 2, exec),
        (c"cfg", &["key", "value"], 1, cfg),
        (c"http_get", &["url", "headers"], 1, http_get),
        (
            c"http_post",
            &["url", "body", "content_type", "headers"],
            1,
            http_post,
        ),
        (
            c"http_put",
            &["url", "body", "content_type", "headers"],
            1,
            http_put,
        ),
    ];
    for (name, params, required, callback) in callbacks {
        let facilities = facilities.clone();
        let function = PyCFunction::new_closure(
            py,
            Some(name),
            None,
            move |args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>| {
                let py = args.py();
                let parsed = Args::parse(name, params, required, args, kwargs)?;
                callback(&facilities, py, parsed)
            },
        )?;
        data.set_item(name.to_str().unwrap_or_default(), function)?;
    }
    prelude.getattr("wrap")?.call1((data,))
}

/// Positional-or-keyword arguments of one call, in parameter order; `None` for absent or `None`.
pub(super) struct Args<'py> {
    function: &'static str,
    slots: Vec<Option<Bound<'py, PyAny>>>,
}

impl<'py> Args<'py> {
    fn parse(
        name: &'static std::ffi::CStr,
        params: &[&str],
        required: usize,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Self> {
        let function = name.to_str().unwrap_or("ctx function");
        if args.len() > params.len() {
            return Err(PyTypeError::new_err(format!(
                "{function}() takes at most {} arguments ({} given)",
                params.len(),
                args.len()
            )));
        }
        let mut slots: Vec<Option<Bound<'py, PyAny>>> = vec![None; params.len()];
        for (slot, arg) in slots.iter_mut().zip(args.iter()) {
            *slot = Some(arg);
        }
        for (key, value) in kwargs.into_iter().flat_map(|k| k.iter()) {
            let key: String = key.extract()?;
            let Some(index) = params.iter().position(|p| *p == key) else {
                return Err(PyTypeError::new_err(format!(
                    "{function}() got an unexpected keyword argument '{key}'"
                )));
            };
            if slots[index].is_some() {
                return Err(PyTypeError::new_err(format!(
                    "{function}() got multiple values for argument '{key}'"
                )));
            }
            slots[index] = Some(value);
        }
        for slot in &mut slots {
            if slot.as_ref().is_some_and(|v| v.is_none()) {
                *slot = None;
            }
        }
        if let Some(missing) = (0..required).find(|&i| slots[i].is_none()) {
            return Err(PyTypeError::new_err(format!(
                "{function}() missing required argument '{}'",
                params[missing]
            )));
        }
        Ok(Self { function, slots })
    }

    fn get(&self, index: usize) -> Option<&Bound<'py, PyAny>> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    fn string(&self, index: usize) -> PyResult<Option<String>> {
        self.get(index)
            .map(|v| {
                v.extract::<String>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "{}(): expected a str, got {}",
                        self.function,
                        type_name(v)
                    ))
                })
            })
            .transpose()
    }

    fn required_string(&self, index: usize) -> PyResult<String> {
        Ok(self.string(index)?.unwrap_or_default())
    }

    /// A `headers=` dict as pairs; values are converted with `str()`.
    fn headers(&self, index: usize) -> PyResult<Vec<(String, String)>> {
        let Some(value) = self.get(index) else {
            return Ok(Vec::new());
        };
        let dict = value.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("{}(): headers must be a dict", self.function))
        })?;
        dict.iter()
            .map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string())))
            .collect()
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string())
}

fn host_error(e: &anyhow::Error) -> PyErr {
    PyRuntimeError::new_err(crate::error::one_line(e.as_ref()))
}

fn secret(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let name = args.required_string(0)?;
    match args.get(1) {
        Some(value) => {
            let value = value.str()?.to_string();
            py.detach(|| f.host.set_secret(&name, &value))
                .map_err(|e| host_error(&e))?;
            Ok(py.None())
        }
        None => {
            let value = py
                .detach(|| f.host.secret(&name))
                .map_err(|e| host_error(&e))?;
            Ok(value.into_pyobject(py)?.into_any().unbind())
        }
    }
}

fn step(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let msg = args.get(0).map(|m| m.str()).transpose()?;
    // A step belongs to the hook's own status line above it: an arrow in the verb column.
    f.printer
        .status("→", msg.map(|m| m.to_string()).unwrap_or_default());
    Ok(py.None())
}

fn warn(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let msg = args.get(0).map(|m| m.str()).transpose()?;
    f.printer
        .warn(msg.map(|m| m.to_string()).unwrap_or_default());
    Ok(py.None())
}

/// `shell(cmd)`: `bash -c cmd` in the stacklet dir with the hook env; returns the output text.
fn shell(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let cmd = args.required_string(0)?;
    let mut command = tokio::process::Command::new("bash");
    command.arg("-c").arg(&cmd).current_dir(&f.cwd).envs(&f.env);
    let mut output = Vec::new();
    let status = py.detach(|| {
        f.handle
            .block_on(stream_hook_command(&mut command, &mut |line| {
                f.printer.detail(line);
                output.push(line.to_string());
            }))
    });
    let status = status
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start bash for `{cmd}`: {e}")))?;
    let output = output.join("\n");
    if status.success() {
        return Ok(PyString::new(py, &output).into_any().unbind());
    }
    let code = status.code().unwrap_or(-1);
    Err(command_error(
        py,
        format!("command `{cmd}` failed with {}", describe_status(status)),
        i64::from(code),
        output,
    ))
}

/// `exec(container, argv)`: run in a container through the host; returns the output text.
fn exec(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let container = args.required_string(0)?;
    let argv_obj = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| py.None().into_bound(py));
    if argv_obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "exec(): argv must be a list of strings, e.g. [\"psql\", \"-c\", \"select 1\"]",
        ));
    }
    let argv: Vec<String> = argv_obj
        .extract()
        .map_err(|_| PyTypeError::new_err("exec(): argv must be a list of strings"))?;
    let mut output = Vec::new();
    let code = py
        .detach(|| {
            f.host.exec(&container, &argv, &mut |line| {
                f.printer.detail(line);
                output.push(line.to_string());
            })
        })
        .map_err(|e| host_error(&e))?;
    let output = output.join("\n");
    if code == 0 {
        return Ok(PyString::new(py, &output).into_any().unbind());
    }
    Err(command_error(
        py,
        format!(
            "`{}` in container `{container}` failed with exit code {code}",
            argv.join(" ")
        ),
        code,
        output,
    ))
}

fn command_error(py: Python<'_>, message: String, code: i64, output: String) -> PyErr {
    prelude_error(py, "CommandError", (message.clone(), code, output))
        .unwrap_or_else(|| PyRuntimeError::new_err(message))
}

/// An instance of one of the prelude's exception classes, raised as the hook's exception.
fn prelude_error<'py>(
    py: Python<'py>,
    class: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> Option<PyErr> {
    let module = super::prelude(py).ok()?;
    let value = module.getattr(class).ok()?.call1(args).ok()?;
    Some(PyErr::from_value(value))
}

fn cfg(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let key = args.required_string(0)?;
    match args.get(1) {
        Some(value) => {
            let value = py_to_json(value)?;
            py.detach(|| f.host.set_cfg(&key, value))
                .map_err(|e| host_error(&e))?;
            Ok(py.None())
        }
        None => match py.detach(|| f.host.cfg(&key)).map_err(|e| host_error(&e))? {
            Some(value) => Ok(json_to_py(py, &value)?.unbind()),
            None => Ok(py.None()),
        },
    }
}

fn http_get(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let url = args.required_string(0)?;
    let headers = args.headers(1)?;
    http(f, py, reqwest::Method::GET, url, None, headers)
}

/// `http_post(url, body, content_type=, headers=)`: a str body is form-encoded by default, a
/// dict/list body is JSON (or form fields when `content_type` says form).
fn http_post(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let body = request_body(py, &args, FORM)?;
    let url = args.required_string(0)?;
    http(f, py, reqwest::Method::POST, url, body, args.headers(3)?)
}

/// `http_put(...)`: like `http_post`, but JSON in and out by default.
fn http_put(f: &Facilities, py: Python<'_>, args: Args<'_>) -> PyResult<Py<PyAny>> {
    let body = request_body(py, &args, JSON)?;
    let url = args.required_string(0)?;
    http(f, py, reqwest::Method::PUT, url, body, args.headers(3)?)
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// (content type, bytes) for `body` (arg 1) and `content_type` (arg 2).
fn request_body(
    py: Python<'_>,
    args: &Args<'_>,
    text_default: &str,
) -> PyResult<Option<(String, Vec<u8>)>> {
    let Some(body) = args.get(1) else {
        return Ok(None);
    };
    let content_type = args.string(2)?;
    let (default, bytes) = if let Ok(text) = body.cast::<PyString>() {
        (text_default, text.to_str()?.as_bytes().to_vec())
    } else if let Ok(bytes) = body.cast::<PyBytes>() {
        (text_default, bytes.as_bytes().to_vec())
    } else if content_type.as_deref() == Some(FORM) {
        let encoded: String = py
            .import("urllib.parse")?
            .getattr("urlencode")?
            .call1((body,))?
            .extract()?;
        (FORM, encoded.into_bytes())
    } else {
        (JSON, py_to_json(body)?.to_string().into_bytes())
    };
    Ok(Some((
        content_type.unwrap_or_else(|| default.to_string()),
        bytes,
    )))
}

/// Send one request; a 2xx answer is returned as parsed JSON, else as text (`None` when empty).
fn http(
    f: &Facilities,
    py: Python<'_>,
    method: reqwest::Method,
    url: String,
    body: Option<(String, Vec<u8>)>,
    headers: Vec<(String, String)>,
) -> PyResult<Py<PyAny>> {
    crate::health::plain_http_only(&url).map_err(PyRuntimeError::new_err)?;
    let mut request = f.client.request(method.clone(), &url);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    if let Some((content_type, bytes)) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
    }
    let reply = py.detach(|| {
        f.handle.block_on(async {
            let response = request.send().await?;
            let status = response.status();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        })
    });
    let (status, bytes) = reply.map_err(|e| {
        PyRuntimeError::new_err(format!(
            "{method} {url} failed: {}",
            crate::health::describe_request_error(&e)
        ))
    })?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !status.is_success() {
        let snippet: String = text.trim().chars().take(BODY_SNIPPET_CHARS).collect();
        let message = format!(
            "{method} {url} answered HTTP {}: {snippet}",
            status.as_u16()
        );
        return Err(
            prelude_error(py, "HttpError", (message.clone(), status.as_u16(), text))
                .unwrap_or_else(|| PyRuntimeError::new_err(message)),
        );
    }
    if text.trim().is_empty() {
        return Ok(py.None());
    }
    // Not JSON (a plain-text token, HTML): hand the hook the text itself.
    match py.import("json")?.getattr("loads")?.call1((&text,)) {
        Ok(value) => Ok(value.unbind()),
        Err(_) => Ok(PyString::new(py, &text).into_any().unbind()),
    }
}
