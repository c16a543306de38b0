//! The `modelbump` binary: parse the command line, set up logging, run one command, map the outcome to
//! an exit code. Everything else lives in the library so that it can be tested without a process.

use std::process::ExitCode;

fn main() -> ExitCode {
    modelbump::cli::main()
}
