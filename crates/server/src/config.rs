//! The two files `logpack serve` reads at start (PRODUCT.md §11): the
//! deployment (what an Ops Manager server knows of its project) and the API
//! keys. Both are checked whole before the server listens.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use logpack::Request;

/// A problem with a file given at start, naming the file and the field.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn read(path: &Path, what: &str) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|e| ConfigError(format!("{what} {}: {e}", path.display())))
}

/// The project: its id and its hosts, as the request of PRODUCT.md §1 has
/// them, where a process may also carry `cluster` and `auditLogPath`.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// 24 lower-case hex digits.
    pub group_id: String,
    /// The hosts, as written (validated by the request parser).
    pub hosts: Vec<Value>,
    /// Relative paths are resolved against the file's directory.
    pub base_dir: PathBuf,
}

/// What a job body asks for (PRODUCT.md §11, seed `001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// Processes whose `cluster` (else `replicaSet`) is the name.
    Cluster,
    /// Processes whose `replicaSet` is the name.
    ReplicaSet,
    /// The process `host:port`.
    Process,
}

impl ResourceType {
    /// The Ops Manager name, `None` for any other.
    pub fn parse(s: &str) -> Option<ResourceType> {
        match s {
            "CLUSTER" => Some(ResourceType::Cluster),
            "REPLICASET" => Some(ResourceType::ReplicaSet),
            "PROCESS" => Some(ResourceType::Process),
            _ => None,
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl Deployment {
    /// Reads and checks `path`: a group id and hosts that `collect` would
    /// accept.
    pub fn load(path: &Path) -> Result<Deployment, ConfigError> {
        let text = read(path, "deployment file")?;
        let at = |m: String| ConfigError(format!("deployment file {}: {m}", path.display()));
        let value: Value = serde_json::from_str(&text).map_err(|e| at(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(at("must be a JSON object".into()));
        };
        for key in map.keys() {
            if key != "groupId" && key != "hosts" {
                return Err(at(format!(
                    "unknown field {key:?}; expected groupId and hosts"
                )));
            }
        }
        let group_id = match map.remove("groupId") {
            Some(Value::String(g))
                if g.len() == 24 && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                g
            }
            Some(other) => {
                return Err(at(format!(
                    "groupId: {other} is not 24 lower-case hex digits"
                )))
            }
            None => return Err(at("groupId: missing".into())),
        };
        let hosts = match map.remove("hosts") {
            Some(Value::Array(h)) if !h.is_empty() => h,
            _ => return Err(at("hosts: must be a non-empty array".into())),
        };
        let base_dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        // The request parser is the one judge of hosts (it names the field).
        Request::from_json(&json!({ "hosts": hosts }).to_string(), &base_dir)
            .map_err(|e| at(e.to_string()))?;
        Ok(Deployment {
            group_id,
            hosts,
            base_dir,
        })
    }

    /// The hosts of a project job for `resource`: each matched process, and
    /// the agent logs of every host that has one. `None` when nothing
    /// matches.
    pub fn project_hosts(&self, kind: ResourceType, name: &str) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        for host in &self.hosts {
            let hostname = str_of(host, "hostname").unwrap_or("");
            let processes: Vec<Value> = host
                .get("processes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| {
                    let rs = str_of(p, "replicaSet");
                    match kind {
                        ResourceType::Cluster => str_of(p, "cluster").or(rs) == Some(name),
                        ResourceType::ReplicaSet => rs == Some(name),
                        ResourceType::Process => {
                            let port = p.get("port").and_then(Value::as_u64).unwrap_or(0);
                            format!("{hostname}:{port}") == name
                        }
                    }
                })
                .cloned()
                .collect();
            if processes.is_empty() {
                continue;
            }
            let mut h = Map::new();
            h.insert("hostname".into(), json!(hostname));
            if let Some(dir) = host.get("agentLogDir") {
                h.insert("agentLogDir".into(), dir.clone());
            }
            h.insert("processes".into(), Value::Array(processes));
            out.push(Value::Object(h));
        }
        (!out.is_empty()).then_some(out)
    }

    /// The hosts of an OM server job: those with `omLogDir` named in
    /// `servers` (all when empty), with only that directory. The names not
    /// found come back as the error.
    pub fn om_hosts(&self, servers: &[String]) -> Result<Vec<Value>, Vec<String>> {
        let om: Vec<&Value> = self
            .hosts
            .iter()
            .filter(|h| h.get("omLogDir").is_some())
            .collect();
        let known: HashSet<&str> = om.iter().filter_map(|h| str_of(h, "hostname")).collect();
        let missing: Vec<String> = servers
            .iter()
            .filter(|s| !known.contains(s.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() || om.is_empty() {
            return Err(missing);
        }
        Ok(om
            .into_iter()
            .filter(|h| {
                servers.is_empty()
                    || servers
                        .iter()
                        .any(|s| Some(s.as_str()) == str_of(h, "hostname"))
            })
            .map(|h| json!({"hostname": h["hostname"], "omLogDir": h["omLogDir"]}))
            .collect())
    }

    /// Every process of the deployment: host, its JSON.
    pub fn processes(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.hosts.iter().flat_map(|h| {
            let hostname = str_of(h, "hostname").unwrap_or("");
            h.get("processes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(move |p| (hostname, p))
        })
    }
}

/// A role of PRODUCT.md §11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Every project route.
    GroupOwner,
    /// `GET` on the project routes.
    GroupReadOnly,
    /// Every route.
    GlobalOwner,
    /// `GET` on every route.
    GlobalReadOnly,
}

/// One programmatic API key: the Digest user name and password.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKey {
    /// The Digest user name.
    pub public_key: String,
    /// The Digest password.
    pub private_key: String,
    /// At least one.
    pub roles: Vec<Role>,
}

/// The keys file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Keys {
    /// Digest credentials and their roles.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// Tokens accepted by `/logs` (`MonitorApiKey` or `Bearer`).
    #[serde(default)]
    pub monitor_api_keys: Vec<String>,
}

impl Keys {
    /// Reads `path`, which must be a regular file of mode 0600 (or
    /// stricter): it holds passwords.
    pub fn load(path: &Path) -> Result<Keys, ConfigError> {
        let at = |m: String| ConfigError(format!("keys file {}: {m}", path.display()));
        let meta = fs::metadata(path).map_err(|e| at(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if !meta.is_file() {
            return Err(at("not a regular file".into()));
        }
        if mode & 0o077 != 0 {
            return Err(at(format!(
                "mode {mode:04o} lets other users read the keys; chmod 600 it"
            )));
        }
        let text = read(path, "keys file")?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let keys: Keys = serde_path_to_error::deserialize(de)
            .map_err(|e| at(format!("{}: {}", e.path(), e.inner())))?;
        let mut seen = HashSet::new();
        for (i, k) in keys.api_keys.iter().enumerate() {
            if k.public_key.is_empty() || k.private_key.is_empty() {
                return Err(at(format!("apiKeys[{i}]: empty publicKey or privateKey")));
            }
            if k.roles.is_empty() {
                return Err(at(format!("apiKeys[{i}].roles: at least one role")));
            }
            if !seen.insert(&k.public_key) {
                return Err(at(format!(
                    "apiKeys[{i}].publicKey: {:?} appears twice",
                    k.public_key
                )));
            }
        }
        if keys.monitor_api_keys.iter().any(|k| k.len() < 16) {
            return Err(at(
                "monitorApiKeys: each key must have at least 16 characters".into(),
            ));
        }
        Ok(keys)
    }

    /// The key whose public part is `user`.
    pub fn find(&self, user: &str) -> Option<&ApiKey> {
        self.api_keys.iter().find(|k| k.public_key == user)
    }
}
