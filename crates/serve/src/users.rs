//! The users file: who may log in, with which role, and an Argon2id hash of each password.
//!
//! One line per user, `name<TAB>role<TAB>hash` where the hash is a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`); lines starting with `#` are comments. The
//! file is rewritten whole (temporary file + rename) with mode 0600, so a crash never leaves half
//! a file and no other local user reads the hashes. By default it sits next to the lake
//! (`<lake>.users`, see [`default_path`]); `[serve] users_file` in `alara.toml` moves it.

use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, Result};

/// What a user may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads every page and runs read-only SQL.
    Viewer,
    /// Also acknowledges alerts and records explanations.
    Advisor,
    /// Also manages users.
    Admin,
}

impl Role {
    /// The name used in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Advisor => "advisor",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "viewer" => Some(Role::Viewer),
            "advisor" => Some(Role::Advisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name, recorded as the author of acknowledgements and explanations.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Argon2id PHC string.
    hash: String,
}

/// The users file next to a lake: `/data/lake` → `/data/lake.users`.
pub fn default_path(lake: &Path) -> PathBuf {
    let mut s = lake.as_os_str().to_os_string();
    // `lake/` and `lake` name the same directory.
    while s.to_string_lossy().ends_with('/') && s.len() > 1 {
        let t = s.to_string_lossy().trim_end_matches('/').to_string();
        s = t.into();
    }
    s.push(".users");
    PathBuf::from(s)
}

/// Argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    // These constants are valid parameters, so `Params::new` cannot fail.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(b)
}

/// Hashes a password with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| Error::Random(e.to_string()))?;
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| Error::Random(e.to_string()))
}

/// A login name: letters, digits, `.`, `_`, `-`, `@`; 1 to 64 characters (it is written in the
/// lake as an author and in a tab-separated file).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// The users of a file.
#[derive(Debug, Clone, Default)]
pub struct Users {
    path: PathBuf,
    users: Vec<User>,
}

impl Users {
    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Users> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(Error::Io { path: path.to_path_buf(), source }),
        };
        let mut users = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| Error::UsersFile { path: path.to_path_buf(), line: i + 1, why: why.to_string() };
            let mut parts = line.split('\t');
            let (Some(name), Some(role), Some(hash), None) = (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected name<TAB>role<TAB>hash"));
            };
            let role = Role::parse(role).ok_or_else(|| bad("role must be viewer, advisor or admin"))?;
            PasswordHash::new(hash).map_err(|_| bad("the hash is not a PHC string"))?;
            users.push(User { name: name.to_string(), role, hash: hash.to_string() });
        }
        Ok(Users { path: path.to_path_buf(), users })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every user, in file order.
    pub fn list(&self) -> &[User] {
        &self.users
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Adds a user, or replaces the role and password of an existing one. Returns whether the
    /// user already existed. The file is not written until [`Users::save`].
    pub fn set(&mut self, name: &str, role: Role, password: &str) -> Result<bool> {
        if !valid_name(name) {
            return Err(Error::Invalid(format!(
                "user name '{name}': use 1 to 64 letters, digits, '.', '_', '-' or '@'"
            )));
        }
        if password.chars().count() < 8 {
            return Err(Error::Invalid("a password needs at least 8 characters".into()));
        }
        let hash = hash_password(password)?;
        match self.users.iter_mut().find(|u| u.name == name) {
            Some(u) => {
                u.role = role;
                u.hash = hash;
                Ok(true)
            }
            None => {
                self.users.push(User { name: name.to_string(), role, hash });
                Ok(false)
            }
        }
    }

    /// Removes a user; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.users.len();
        self.users.retain(|u| u.name != name);
        before != self.users.len()
    }

    /// The user if the password is right. Takes the same time whether or not the name exists
    /// (a dummy hash is checked), so timing does not tell which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Option<&User> {
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                             4Ppxt9Jx2Hm1P0M3rWq2wV9y3tX8t0t0mJ3lJ5L0a1c";
        let user = self.users.iter().find(|u| u.name == name);
        let hash = user.map(|u| u.hash.as_str()).unwrap_or(DUMMY);
        let ok = PasswordHash::new(hash).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok());
        user.filter(|_| ok)
    }

    /// Writes the file atomically with mode 0600.
    pub fn save(&self) -> Result<()> {
        let mut text = String::from(
            "# alara users: name<TAB>role<TAB>Argon2id hash. Edit with `alara user add` or the web page.\n",
        );
        for u in &self.users {
            text.push_str(&format!("{}\t{}\t{}\n", u.name, u.role.as_str(), u.hash));
        }
        let io = |source| Error::Io { path: self.path.clone(), source };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("users");
        let tmp = self.path.with_file_name(format!(".{name}.tmp"));
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_save_load_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake.users");
        let mut users = Users::load(&path).unwrap();
        assert!(users.is_empty());
        assert!(!users.set("marie", Role::Advisor, "correct horse").unwrap());
        users.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"));
        let users = Users::load(&path).unwrap();
        assert_eq!(users.verify("marie", "correct horse").map(|u| u.role), Some(Role::Advisor));
        assert!(users.verify("marie", "wrong horse!").is_none());
        assert!(users.verify("nobody", "correct horse").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn refuses_bad_names_short_passwords_and_bad_lines() {
        let mut users = Users::default();
        assert!(users.set("a\tb", Role::Viewer, "long enough").is_err());
        assert!(users.set("paul", Role::Viewer, "short").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u");
        std::fs::write(&path, "paul\tboss\t$argon2id$x\n").unwrap();
        assert!(matches!(Users::load(&path), Err(Error::UsersFile { line: 1, .. })));
    }

    #[test]
    fn default_path_is_next_to_the_lake() {
        assert_eq!(default_path(Path::new("/data/lake/")), PathBuf::from("/data/lake.users"));
        assert_eq!(default_path(Path::new("alara-demo/lake")), PathBuf::from("alara-demo/lake.users"));
    }
}
