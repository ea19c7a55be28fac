//! `alara user`: manage who may log in to `alara serve` (and its SQL endpoint).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use alara_serve::{Role, Users};
use anyhow::Context;

use crate::UsageError;
use crate::config::Config;

/// Arguments of `alara user`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Add a user, or change the role and password of an existing one. The password is read
    /// from the terminal (twice), or from ALARA_USER_PASSWORD.
    Add {
        /// Login name.
        name: String,
        /// What the user may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        #[command(flatten)]
        file: FileArgs,
    },
    /// Remove a user.
    Remove {
        /// Login name.
        name: String,
        #[command(flatten)]
        file: FileArgs,
    },
    /// List users and roles.
    List {
        #[command(flatten)]
        file: FileArgs,
    },
}

/// Where the users file is.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// Lake directory (the users file is `<lake>.users` unless configured).
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// The users file itself.
    #[arg(long, env = "ALARA_USERS", value_name = "FILE")]
    pub users: Option<PathBuf>,
}

/// A role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Reads pages and runs read-only SQL.
    Viewer,
    /// Also acknowledges alerts and records explanations.
    Advisor,
    /// Also manages users.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Advisor => Role::Advisor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// The users file: `--users`, else `[serve] users_file`, else next to the lake.
pub fn users_file(file: &FileArgs, config: &Config) -> anyhow::Result<PathBuf> {
    if let Some(u) = file.users.clone().or_else(|| config.serve.users_file.clone()) {
        return Ok(u);
    }
    Ok(alara_serve::users::default_path(&config.lake(file.lake.as_deref())?))
}

fn usage(e: alara_serve::Error) -> anyhow::Error {
    if e.is_usage() { UsageError(e.to_string()).into() } else { e.into() }
}

/// Reads a password: the environment variable, else the terminal without echo (twice).
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("ALARA_USER_PASSWORD") {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(UsageError(
            "no terminal to read the password from: set ALARA_USER_PASSWORD (never put it on the command line)".into(),
        )
        .into());
    }
    let ask = |prompt: &str| -> anyhow::Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        // No echo while typing; restored whatever happens next.
        let _ = std::process::Command::new("stty").arg("-echo").stdin(std::process::Stdio::inherit()).status();
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        let _ = std::process::Command::new("stty").arg("echo").stdin(std::process::Stdio::inherit()).status();
        eprintln!();
        read.context("reading the password")?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    };
    let first = ask("password: ")?;
    let second = ask("again: ")?;
    if first != second {
        return Err(UsageError("the two passwords differ".into()).into());
    }
    Ok(first)
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Add { name, role, file } => {
            let path = users_file(&file, config)?;
            let mut users = Users::load(&path).map_err(usage)?;
            let password = read_password()?;
            let existed = users.set(&name, role.into(), &password).map_err(usage)?;
            users.save().map_err(usage)?;
            let verb = if existed { "changed" } else { "added" };
            println!("{verb} user {name} ({}) in {}", Role::from(role).as_str(), path.display());
        }
        Action::Remove { name, file } => {
            let path = users_file(&file, config)?;
            let mut users = Users::load(&path).map_err(usage)?;
            if !users.remove(&name) {
                return Err(UsageError(format!("no user {name} in {}", path.display())).into());
            }
            users.save().map_err(usage)?;
            println!("removed user {name} from {}", path.display());
        }
        Action::List { file } => {
            let path = users_file(&file, config)?;
            let users = Users::load(&path).map_err(usage)?;
            for u in users.list() {
                println!("{}\t{}", u.name, u.role.as_str());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
