//! `command`: runs a program with the JSON delivery on its standard input (mail, SMS gateway,
//! ticketing). Exit status 0 is success. The environment also carries `ALARA_ALERT_ID`,
//! `ALARA_ALERT_LEVEL`, `ALARA_ALERT_WORKER` and `ALARA_ALERT_SUMMARY` of the leading alert, for
//! one-line scripts.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Notifier;
use crate::alert::Delivery;

/// Runs a program per delivery.
pub struct CommandNotifier {
    program: String,
    args: Vec<String>,
    timeout: Duration,
}

impl CommandNotifier {
    /// A notifier running `program args…`, killed after `timeout`.
    pub fn new(program: &str, args: &[String], timeout: Duration) -> CommandNotifier {
        CommandNotifier { program: program.to_string(), args: args.to_vec(), timeout }
    }
}

impl Notifier for CommandNotifier {
    fn send(&mut self, delivery: &Delivery<'_>, body: &[u8]) -> Result<(), String> {
        let head = delivery.head;
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env("ALARA_ALERT_ID", &head.alert_id)
            .env("ALARA_ALERT_LEVEL", head.level.as_str())
            .env("ALARA_ALERT_WORKER", &head.worker_id)
            .env("ALARA_ALERT_SUMMARY", &head.summary)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program))?;
        // Written from a thread so a program that reads late (or never) cannot block us past
        // the timeout. A program that exits without reading is its own business: ignore EPIPE.
        let mut stdin = child.stdin.take();
        let input = body.to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(&input);
            }
        });
        // Read stderr as it comes, so a chatty program cannot fill the pipe and stall.
        let mut stderr_pipe = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(e) = stderr_pipe.as_mut() {
                let _ = e.read_to_string(&mut text);
            }
            text
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{} did not finish within {:?}; killed", self.program, self.timeout));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("waiting for {}: {e}", self.program)),
            }
        };
        let _ = writer.join();
        let stderr = reader.join().unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        let tail: String = stderr.trim().chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
        Err(format!("{} exited with {status}: {tail}", self.program))
    }
}
