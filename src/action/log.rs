//! The action's log, the way the runner shows logs: no ANSI colours, no
//! timestamp of its own (the runner stamps every line), and with
//! `RUNNER_DEBUG=1` (the "debug logging" re-run option) debug events as
//! `::debug::` workflow commands, which the runner shows only then.
//!
//! Every line goes to stdout, in order with the run's other output. A
//! debug line is a workflow command whose data is escaped (`%`, CR, LF), so
//! no text in it can start another command; any other line is neutralised
//! like all text the tool prints ([`crate::text::neutral`]).

use std::fmt;
use std::io::Write;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::commands::escape_data;

/// Formats one event as one runner line.
struct RunnerFormat;

impl<S, N> FormatEvent<S, N> for RunnerFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut text = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut text), event)?;
        writeln!(writer, "{}", line(*event.metadata().level(), &text))
    }
}

/// One log line: `::debug::<escaped>` for debug and trace events,
/// `<LEVEL> <neutralised text>` otherwise.
pub fn line(level: Level, text: &str) -> String {
    if level >= Level::DEBUG {
        format!("::debug::{}", escape_data(text))
    } else {
        crate::text::neutral(&format!("{level} {text}"))
    }
}

/// Stdout, unguarded: [`RunnerFormat`] makes every line safe itself.
fn stdout() -> impl Write {
    std::io::stdout()
}

/// Installs the action's log. `debug`: `RUNNER_DEBUG=1`, which shows this
/// tool's debug events; `filter` (from `AUTH0_ROTATE_LOG`) wins when set.
pub fn init(debug: bool, filter: Option<&str>) {
    let default = if debug {
        "warn,auth0_rotate=debug"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .event_format(RunnerFormat)
        .with_writer(stdout)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_events_are_escaped_debug_commands() {
        let l = line(Level::DEBUG, "a\n::error::injected 100%");
        assert_eq!(l, "::debug::a%0A::error::injected 100%25");
        assert!(!l.contains('\n'));
    }

    #[test]
    fn other_events_never_start_a_command_and_have_no_colour_or_time() {
        let l = line(Level::WARN, "x\n::stop-commands::y");
        assert!(l.starts_with("WARN x"), "{l}");
        assert!(!l.contains('\n') && !l.contains('\u{1b}'), "{l}");
        assert!(!crate::text::starts_command(&line(
            Level::ERROR,
            "::add-mask::k"
        )));
    }
}
