//! Rendering: template variables, templates and the `.env` file.

pub mod vars;
