//! `--post-renderer` (Helm's `pkg/postrender/exec.go`): a program that gets the rendered
//! manifests on standard input and whose standard output replaces them. The only part of the
//! crate that runs a program; it runs only when the user names one.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::HelmError;

/// A post-renderer: the program (an absolute path, found as `exec.LookPath` finds it) and its
/// arguments (`--post-renderer-args`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRenderer {
    pub binary: PathBuf,
    pub args: Vec<String>,
}

impl PostRenderer {
    /// `postrender.NewExec`: a name without `/` is looked up in `$PATH`, a path is taken
    /// relative to the current folder; either must be an executable file. The error is
    /// Helm's text (what follows `invalid argument "NAME" for "--post-renderer" flag: `).
    pub fn new(binary: &str, args: Vec<String>) -> Result<PostRenderer, HelmError> {
        let found = look_path(binary).map_err(|e| {
            HelmError::Usage(format!(
                "unable to find binary at {binary}: exec: {binary:?}: {e}"
            ))
        })?;
        let binary = std::path::absolute(&found)
            .map_err(|e| HelmError::Usage(format!("unable to find binary at {binary}: {e}")))?;
        Ok(PostRenderer { binary, args })
    }

    /// `execRender.Run`: pipes `manifests` through the program. A failure (it cannot start, or
    /// exits unsuccessfully) carries what it wrote on standard error, as Helm reports it.
    pub fn run(&self, manifests: &str) -> Result<String, HelmError> {
        let shown = self.binary.display();
        let fail = |stderr: &str, e: String| {
            HelmError::Render(format!(
                "error while running post render on files: error while running command {shown}. error output:\n{stderr}: {e}"
            ))
        };
        let mut child = Command::new(&self.binary)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail("", e.to_string()))?;
        // Written from a thread, as Go's `io.Copy` goroutine does, so that a program that
        // writes before it has read everything cannot deadlock against us.
        let input = manifests.as_bytes().to_vec();
        let stdin = child.stdin.take();
        let writer = std::thread::spawn(move || {
            if let Some(mut stdin) = stdin {
                // A program that exits without reading all of it is not an error here.
                let _ = stdin.write_all(&input);
            }
        });
        let mut stderr_pipe = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stderr_pipe.as_mut() {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let mut out = Vec::new();
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_end(&mut out);
        }
        let status = child.wait().map_err(|e| fail("", e.to_string()))?;
        let _ = writer.join();
        let stderr = err_reader.join().unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr);
        if !status.success() {
            return Err(fail(&stderr, go_exit_status(&status)));
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Go's `ExitError` text: `exit status N`, or `signal: NAME` on Unix.
fn go_exit_status(status: &std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(sig) = status.signal() {
            let name = match sig {
                9 => "killed".to_owned(),
                15 => "terminated".to_owned(),
                6 => "aborted".to_owned(),
                11 => "segmentation fault".to_owned(),
                13 => "broken pipe".to_owned(),
                n => format!("signal {n}"),
            };
            return format!("signal: {name}");
        }
    }
    status.to_string()
}

/// `exec.LookPath`, with Go's error text (after `exec: "NAME": `).
fn look_path(name: &str) -> Result<PathBuf, String> {
    if name.contains('/') {
        let p = Path::new(name);
        return match std::fs::metadata(p) {
            Ok(m) if is_executable(&m) => Ok(p.to_path_buf()),
            Ok(_) => Err(format!("stat {name}: permission denied")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("stat {name}: no such file or directory"))
            }
            Err(e) => Err(format!("stat {name}: {e}")),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        if let Ok(m) = std::fs::metadata(&candidate)
            && is_executable(&m)
        {
            return Ok(candidate);
        }
    }
    Err("executable file not found in $PATH".into())
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(m: &std::fs::Metadata) -> bool {
    m.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_as_go_finds_them() {
        let e = PostRenderer::new("no-such-post-renderer-here", vec![]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find binary at no-such-post-renderer-here: exec: \"no-such-post-renderer-here\": executable file not found in $PATH"
        );
        let e = PostRenderer::new("./no/such/file", vec![]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find binary at ./no/such/file: exec: \"./no/such/file\": stat ./no/such/file: no such file or directory"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_manifests_go_through_the_program() {
        let sed = PostRenderer::new("sed", vec!["s/a/b/".into()]).expect("sed is installed");
        assert!(sed.binary.is_absolute());
        assert_eq!(sed.run("a: 1\na: 2\n").unwrap(), "b: 1\nb: 2\n");
        let sh = PostRenderer::new("sh", vec!["-c".into(), "echo oops >&2; exit 3".into()])
            .expect("sh is installed");
        let e = sh.run("x").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "error while running post render on files: error while running command /"
            ),
            "{e}"
        );
        assert!(e.ends_with(". error output:\noops\n: exit status 3"), "{e}");
    }
}
