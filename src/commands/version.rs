//! `stack --version` prints the version; `stack --version --verbose` and `stack version` add the
//! embedded Python: the one the binary was built with and the one that actually starts here.

use std::process::ExitCode;

use crate::output::Printer;

pub fn version(printer: &Printer, verbose: bool) -> anyhow::Result<ExitCode> {
    printer.out(format!("stack {}", env!("CARGO_PKG_VERSION")));
    if !verbose {
        return Ok(ExitCode::SUCCESS);
    }
    python(printer)
}

#[cfg(feature = "python")]
fn python(printer: &Printer) -> anyhow::Result<ExitCode> {
    use crate::hooks::{Embedded, running_python};

    let built = Embedded::built();
    printer.out(format!("python {}", built.version));
    printer.out(format!("  built with  {}", built.executable.display()));
    printer.out(format!("  home        {}", built.home.display()));
    printer.out(format!("  stdlib      {}", built.stdlib.display()));
    // How build.rs linked it: `static (<archive>)` or `shared` (docs/performance.md).
    printer.out(format!("  libpython   {}", env!("STACK_PYTHON_LINKED")));
    match running_python() {
        Ok(running) => {
            printer.out(format!(
                "  running     {} (home {})",
                running.version,
                running.home.display()
            ));
            if running.version != built.version || running.home != built.home {
                printer.warn(format!(
                    "The Python that starts here ({} at `{}`) is not the one `stack` was built with",
                    running.version,
                    running.home.display()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            printer.error(&e, &[e.hint()]);
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(not(feature = "python"))]
fn python(printer: &Printer) -> anyhow::Result<ExitCode> {
    printer.out("python none (built without the `python` feature)");
    Ok(ExitCode::SUCCESS)
}
