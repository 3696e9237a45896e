//! Python hooks and CLI commands in the embedded interpreter (pyo3).
//!
//! Invariants: these functions run on a blocking thread, never on a tokio worker (they attach to the
//! interpreter and may block for as long as the hook runs). Only one hook or command uses the
//! interpreter at a time ([`PY_LOCK`]), because `sys.stdout`, `sys.argv` and `sys.path` are global;
//! the lock is taken *before* attaching, so a thread waiting for it never holds the interpreter.
//! The standard library is checked before the first attach, because CPython aborts the whole
//! process when it cannot find it.

mod ctx;
mod interpreter;

pub use interpreter::{Embedded, running as running_python};

use std::ffi::CString;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyList, PyModule, PyTuple};

use super::{HookContext, HookError, HookHost};
use crate::output::Printer;

static PY_LOCK: Mutex<()> = Mutex::new(());

const PRELUDE: &std::ffi::CStr = {
    match std::ffi::CStr::from_bytes_with_nul(concat!(include_str!("prelude.py"), "\0").as_bytes())
    {
        Ok(s) => s,
        Err(_) => panic!("prelude.py contains a NUL byte"),
    }
};

/// Load `file` and call its `run(ctx)`.
pub(crate) fn run_hook_file(
    file: &Path,
    ctx: HookContext,
    host: Arc<dyn HookHost>,
    printer: Printer,
    handle: tokio::runtime::Handle,
) -> Result<(), HookError> {
    let detail = printer.clone();
    let run = Run {
        file,
        module_name: format!(
            "stack_hook_{}_{}",
            ctx.stacklet_id.replace('-', "_"),
            file.file_stem().unwrap_or_default().to_string_lossy()
        ),
        argv: vec![file.display().to_string()],
        out: Box::new(move |line| detail.detail(line)),
        err: None,
    };
    execute(run, ctx, host, printer, handle, |_, _, ctx_obj, module| {
        if !module.hasattr("run")? {
            return Err(pyo3::exceptions::PyAttributeError::new_err(
                "the hook defines no `run(ctx)` function",
            ));
        }
        module.getattr("run")?.call1((ctx_obj,))?;
        Ok(())
    })
}

/// Run `cli/<command>.py`: execute its body with `sys.argv = [command, args…]`, then call its
/// `run(args, stacklet, config)` if it has one.
pub(crate) fn run_cli_file(
    file: &Path,
    command: &str,
    args: Vec<String>,
    ctx: HookContext,
    host: Arc<dyn HookHost>,
    printer: Printer,
    handle: tokio::runtime::Handle,
) -> Result<(), HookError> {
    // A command's print() is its output: stdout stays data, stderr stays progress.
    let (out, err) = (printer.clone(), printer.clone());
    let run = Run {
        file,
        module_name: format!(
            "stack_cli_{}_{}",
            ctx.stacklet_id.replace('-', "_"),
            command.replace('-', "_")
        ),
        argv: std::iter::once(command.to_string())
            .chain(args.iter().cloned())
            .collect(),
        out: Box::new(move |line| out.out(line)),
        err: Some(Box::new(move |line| err.note(line))),
    };
    let config = ctx.config.clone();
    execute(
        run,
        ctx,
        host,
        printer,
        handle,
        |py, prelude, ctx_obj, module| {
            if module.hasattr("run")? {
                let config = prelude
                    .getattr("wrap")?
                    .call1((json_to_py(py, &config)?,))?;
                module
                    .getattr("run")?
                    .call1((PyList::new(py, &args)?, ctx_obj, config))?;
            }
            Ok(())
        },
    )
}

/// One run of a Python file: its module name, `sys.argv`, and where each line it writes to
/// `sys.stdout` / `sys.stderr` goes (`err: None`: same as `out`).
struct Run<'a> {
    file: &'a Path,
    module_name: String,
    argv: Vec<String>,
    out: LineFn,
    err: Option<LineFn>,
}

type LineFn = Box<dyn Fn(&str) + Send + Sync>;

/// Take the interpreter, build `ctx`, install the run's `sys` state, execute the file's body, then
/// `after_load(py, prelude, ctx, module)`; restore `sys` whatever happened. `SystemExit(0|None)` is
/// success, `SystemExit(n)` is [`HookError::Exit`], any other exception [`HookError::Python`].
fn execute(
    run: Run<'_>,
    ctx: HookContext,
    host: Arc<dyn HookHost>,
    printer: Printer,
    handle: tokio::runtime::Handle,
    after_load: impl for<'py> FnOnce(
        Python<'py>,
        &Bound<'py, PyModule>,
        &Bound<'py, PyAny>,
        &Bound<'py, PyModule>,
    ) -> PyResult<()>,
) -> Result<(), HookError> {
    let _guard = PY_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let file = run.file;
    let source = prepare(file)?;
    Python::attach(|py| {
        let outcome = (|| {
            let prelude = prelude(py)?;
            let facilities = ctx::Facilities::new(&ctx, host, printer, handle);
            let ctx_obj = ctx::build(py, &prelude, &ctx, facilities)?;
            let out: Arc<dyn Fn(&str) + Send + Sync> = Arc::from(run.out);
            let err: Arc<dyn Fn(&str) + Send + Sync> =
                run.err.map_or_else(|| out.clone(), Arc::from);
            // The file's own folder first (`_helpers.py` beside a hook or command), then the
            // repo's shared `lib/` (beside `stacklets/` at the repo root), so
            // helpers every stacklet needs live once.
            let mut path_entries = vec![file.parent().unwrap_or(Path::new(".")).to_path_buf()];
            if let Some(root) = ctx.stacklet_dir.parent().and_then(Path::parent) {
                let lib = root.join("lib");
                if lib.is_dir() {
                    path_entries.push(lib);
                }
            }
            let session = prelude.getattr("Session")?.call1((
                ctx.stacklet_dir.display().to_string(),
                path_entries
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>(),
                run.argv,
                &ctx_obj,
                line_sink(py, out)?,
                line_sink(py, err)?,
            ))?;
            session.call_method0("enter")?;
            let result = load(py, &source, file, &run.module_name)
                .and_then(|module| after_load(py, &prelude, &ctx_obj, &module));
            let left = session.call_method0("leave");
            result.and(left.map(drop))
        })();
        match outcome {
            Ok(()) => Ok(()),
            Err(e) if e.is_instance_of::<PySystemExit>(py) => system_exit(py, file, &e),
            Err(e) => Err(failure(py, file, &e)),
        }
    })
}

/// Check the interpreter can start and read the file, before touching Python.
fn prepare(file: &Path) -> Result<CString, HookError> {
    interpreter::ensure().map_err(|e| HookError::PythonUnavailable {
        file: file.to_path_buf(),
        reason: e.to_string(),
        hint: Some(e.hint()),
    })?;
    let source = std::fs::read_to_string(file).map_err(|source| HookError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    CString::new(source).map_err(|_| HookError::Python {
        file: file.to_path_buf(),
        line: None,
        exception: "SyntaxError: source code contains a NUL byte".to_string(),
        traceback: String::new(),
    })
}

/// The prelude module, loaded once per process.
fn prelude(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let modules = py.import("sys")?.getattr("modules")?;
    if let Ok(module) = modules.get_item("_stack_prelude") {
        return Ok(module.cast_into::<PyModule>()?);
    }
    PyModule::from_code(py, PRELUDE, c"<stack prelude>", c"_stack_prelude")
}

fn line_sink(
    py: Python<'_>,
    emit: Arc<dyn Fn(&str) + Send + Sync>,
) -> PyResult<Bound<'_, PyCFunction>> {
    PyCFunction::new_closure(
        py,
        Some(c"emit"),
        None,
        move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
            let line: String = args.get_item(0)?.extract()?;
            emit(&line);
            Ok(())
        },
    )
}

/// Compile and execute `source` as a module whose `__file__` is the real path, so tracebacks name
/// the file and line.
fn load<'py>(
    py: Python<'py>,
    source: &CString,
    file: &Path,
    module_name: &str,
) -> PyResult<Bound<'py, PyModule>> {
    let file_name = CString::new(file.display().to_string())?;
    let module_name = CString::new(module_name)?;
    PyModule::from_code(py, source, &file_name, &module_name)
}

/// A Python exception as a `HookError`, with the traceback's last frames.
fn failure(py: Python<'_>, file: &Path, err: &PyErr) -> HookError {
    let described = (|| -> PyResult<(String, String, Option<usize>)> {
        let prelude = prelude(py)?;
        prelude
            .getattr("describe")?
            // Passed separately: on 3.11 the fetched exception has no `__traceback__` yet.
            .call1((err.value(py), err.traceback(py), file.display().to_string()))?
            .extract()
    })();
    let (exception, traceback, line) =
        described.unwrap_or_else(|_| (err.to_string(), String::new(), None));
    HookError::Python {
        file: file.to_path_buf(),
        line,
        exception,
        traceback,
    }
}

/// `SystemExit(code)`: `None`/0 is success, an int is that exit code, anything else is printed by
/// Python's convention as a message with exit code 1.
fn system_exit(py: Python<'_>, file: &Path, err: &PyErr) -> Result<(), HookError> {
    let code = err.value(py).getattr("code").ok();
    let (code, message) = match code {
        None => (0, None),
        Some(c) if c.is_none() => (0, None),
        Some(c) => match c.extract::<i32>() {
            Ok(n) => (n, None),
            Err(_) => (1, Some(c.str().map(|s| s.to_string()).unwrap_or_default())),
        },
    };
    if code == 0 {
        return Ok(());
    }
    Err(HookError::Exit {
        file: file.to_path_buf(),
        code,
        message,
    })
}

/// JSON → Python through `json.loads`, so the values are exactly what Python's own parser makes.
fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .getattr("loads")?
        .call1((value.to_string(),))
}

/// Python → JSON through `json.dumps`; a value JSON cannot hold raises `TypeError` in the hook.
fn py_to_json(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let text: String = value
        .py()
        .import("json")?
        .getattr("dumps")?
        .call1((value,))?
        .extract()?;
    serde_json::from_str(&text)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("not JSON: {e}")))
}
