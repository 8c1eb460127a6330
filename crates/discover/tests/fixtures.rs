//! Discovery over fixture trees laid out like `/proc`, `/etc` and `/opt`:
//! process directories with `cmdline` (NUL-separated), `comm`, `status`
//! and a `cwd` link; agent configs; an Ops Manager installation; and
//! hostile input of every kind the issue names. Config-file shapes come
//! from the corpus where it has them (the startup "options" lines of real
//! servers, which echo their config files).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use logpack_discover::{discover, AgentKind, Discovery, FoundProcess, Kind, Roots};

/// A fixture host: `root/proc`, `root/etc`, `root/opt`, and `root/files`
/// for the config files and working directories the processes name.
struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for d in ["proc/sys/kernel", "etc", "opt", "files"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("proc/sys/kernel/hostname"), "db1.example.com\n").unwrap();
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nmongod:x:996:994:mongod:/var/lib/mongo:/bin/false\n",
        )
        .unwrap();
        Host { _dir: dir, root }
    }

    fn roots(&self) -> Roots {
        Roots {
            proc_root: self.root.join("proc"),
            etc_root: self.root.join("etc"),
            opt_root: self.root.join("opt"),
        }
    }

    /// A path under `files/`, as text.
    fn file(&self, rel: &str) -> String {
        self.root
            .join("files")
            .join(rel)
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Writes `files/<rel>` and returns its absolute path.
    fn write(&self, rel: &str, content: &[u8]) -> String {
        let path = self.root.join("files").join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// A process directory: `args` joined by NULs, `comm` as the kernel
    /// would write it, a `status` with the uid, and `cwd` linking to
    /// `files/<cwd>`.
    fn process(
        &self,
        pid: u32,
        comm: &str,
        args: &[&[u8]],
        uid: u32,
        cwd: Option<&str>,
    ) -> PathBuf {
        let dir = self.root.join("proc").join(pid.to_string());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
        let mut cmdline = Vec::new();
        for a in args {
            cmdline.extend_from_slice(a);
            cmdline.push(0);
        }
        fs::write(dir.join("cmdline"), cmdline).unwrap();
        fs::write(
            dir.join("status"),
            format!("Name:\t{comm}\nState:\tS (sleeping)\nPid:\t{pid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
        )
        .unwrap();
        if let Some(cwd) = cwd {
            let target = self.root.join("files").join(cwd);
            fs::create_dir_all(&target).unwrap();
            symlink(&target, dir.join("cwd")).unwrap();
        }
        dir
    }

    fn mongo(&self, pid: u32, exe: &str, args: &[&str]) -> PathBuf {
        let mut all: Vec<&[u8]> = vec![exe.as_bytes()];
        all.extend(args.iter().map(|a| a.as_bytes()));
        let comm = Path::new(exe).file_name().unwrap().to_str().unwrap();
        self.process(pid, comm, &all, 996, Some("cwd"))
    }

    fn discover(&self) -> Discovery {
        let d = discover(&self.roots());
        check(&d);
        d
    }
}

/// Every request discovery proposes is one collect accepts.
fn check(d: &Discovery) {
    match d.request_json(true) {
        Some(json) => {
            assert!(d.found > 0);
            let parsed = logpack::Request::from_json(&json, Path::new("/"));
            assert!(parsed.is_ok(), "{json}\n{:?}", parsed.err());
            let compact = d.request_json(false).unwrap();
            assert!(!compact.contains('\n'));
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&compact).unwrap(),
                d.request().unwrap()
            );
        }
        None => {
            assert_eq!(d.found, 0);
            assert!(d.request().is_none());
        }
    }
}

fn process(d: &Discovery, pid: u32) -> &FoundProcess {
    d.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} not found: {}", d.summary()))
}

fn note<'a>(d: &'a Discovery, needle: &str) -> &'a str {
    d.notes
        .iter()
        .find(|n| n.contains(needle))
        .unwrap_or_else(|| panic!("no note with {needle:?}: {:#?}", d.notes))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn nothing_found_says_so() {
    let host = Host::new();
    let d = host.discover();
    assert_eq!(d.found, 0);
    assert_eq!(d.hostname, "db1.example.com");
    assert!(d.request_json(true).is_none());
    assert!(
        d.summary()
            .contains("Nothing to collect on db1.example.com"),
        "{}",
        d.summary()
    );
    // An empty tree is no error.
    assert!(d.notes.is_empty(), "{:?}", d.notes);

    // Not even a /proc.
    let roots = Roots {
        proc_root: host.root.join("no-such-proc"),
        ..host.roots()
    };
    let d = discover(&roots);
    check(&d);
    assert_eq!(d.found, 0);
    note(&d, "cannot be listed");
    assert!(!d.hostname.is_empty());
}

#[test]
fn mongod_defaults() {
    let host = Host::new();
    host.mongo(
        100,
        "/usr/bin/mongod",
        &["--logpath", "/var/log/mongodb/a.log"],
    );
    host.mongo(
        101,
        "/usr/bin/mongod",
        &[
            "--shardsvr",
            "--logpath=/var/log/mongodb/b.log",
            "--replSet",
            "sh1",
        ],
    );
    host.mongo(
        102,
        "/usr/bin/mongod",
        &[
            "--configsvr",
            "--logpath",
            "/var/log/mongodb/c.log",
            "--replSet",
            "cfg",
        ],
    );
    host.mongo(
        103,
        "/opt/mongo/bin/mongos",
        &[
            "--configdb",
            "cfg/h:27019",
            "--port",
            "27016",
            "--logpath",
            "/var/log/mongodb/s.log",
        ],
    );
    let d = host.discover();
    assert_eq!(d.found, 4, "{}", d.summary());
    let a = process(&d, 100);
    assert_eq!(
        (a.kind, a.port, a.db_path.as_deref()),
        (Kind::Mongod, 27017, Some("/data/db"))
    );
    assert_eq!(a.owner, "mongod");
    assert_eq!(a.replica_set, None);
    let b = process(&d, 101);
    assert_eq!((b.port, b.replica_set.as_deref()), (27018, Some("sh1")));
    let c = process(&d, 102);
    assert_eq!(
        (c.port, c.db_path.as_deref()),
        (27019, Some("/data/configdb"))
    );
    let s = process(&d, 103);
    assert_eq!(
        (s.kind, s.port, s.db_path.as_deref()),
        (Kind::Mongos, 27016, None)
    );

    let json: serde_json::Value = serde_json::from_str(&d.request_json(true).unwrap()).unwrap();
    let host0 = &json["hosts"][0];
    assert_eq!(host0["hostname"], "db1.example.com");
    assert_eq!(host0["processes"][1]["replicaSet"], "sh1");
    assert_eq!(host0["processes"][3]["type"], "mongos");
    assert!(host0.get("agentLogDir").is_none());
    // The fields in PRODUCT.md §1's order, for the person who edits it.
    let text = d.request_json(true).unwrap();
    assert!(text.find("\"type\"").unwrap() < text.find("\"logPath\"").unwrap());
    assert!(text.find("\"hostname\"").unwrap() < text.find("\"processes\"").unwrap());
}

#[test]
fn yaml_config_relative_to_cwd_and_overridden_by_the_command_line() {
    let host = Host::new();
    host.write(
        "cwd/conf/mongod.conf",
        b"# mongod.conf\nsystemLog:\n  destination: file\n  logAppend: true\n  path: ../log/mongod.log\n\
          storage:\n  dbPath: data\n  journal:\n    enabled: true\n\
          net:\n  port: 27017\n  bindIp: 127.0.0.1\n\
          replication:\n  replSetName: \"rs0\"\n\
          auditLog:\n  destination: file\n  format: JSON\n  path: /var/log/mongodb/audit.json\n",
    );
    host.mongo(
        200,
        "/usr/bin/mongod",
        &["--config", "conf/mongod.conf", "--port=27020"],
    );
    let d = host.discover();
    let p = process(&d, 200);
    assert_eq!(p.port, 27020, "the command line wins over net.port");
    // Relative to the working directory, as mongod reads it (not to the file).
    assert_eq!(p.log_path, host.file("cwd/../log/mongod.log"));
    assert_eq!(p.db_path.as_deref(), Some(host.file("cwd/data").as_str()));
    assert_eq!(p.replica_set.as_deref(), Some("rs0"));
    assert_eq!(
        p.audit_log_path.as_deref(),
        Some("/var/log/mongodb/audit.json")
    );
    assert_eq!(
        p.config.as_deref(),
        Some(host.file("cwd/conf/mongod.conf").as_str())
    );
    assert!(!p.legacy_config);
}

#[test]
fn legacy_key_value_config() {
    // The shape of Debian's /etc/mongodb.conf (corpus/beats/mongodb-debian-3.2.11.log
    // starts with `options: { config: "/etc/mongodb.conf", ... }` from one).
    let host = Host::new();
    let conf = host.write(
        "etc/mongodb.conf",
        b"# mongodb.conf\n\n# Where to store the data.\ndbpath=/var/lib/mongodb\n\n#where to log\n\
          logpath=/var/log/mongodb/mongodb.log\n\nlogappend=true\n\nbind_ip = 127.0.0.1\n#port = 27017\n\n\
          # Enable journaling, http://www.mongodb.org/display/DOCS/Journaling\njournal=true\n\
          replSet = rsLegacy/db2.example.com:27017,db3.example.com:27017\n",
    );
    host.mongo(
        300,
        "/usr/bin/mongod",
        &["--unixSocketPrefix=/run/mongodb", "--config", &conf],
    );
    let d = host.discover();
    let p = process(&d, 300);
    assert_eq!(p.port, 27017);
    assert_eq!(p.log_path, "/var/log/mongodb/mongodb.log");
    assert_eq!(p.db_path.as_deref(), Some("/var/lib/mongodb"));
    assert_eq!(
        p.replica_set.as_deref(),
        Some("rsLegacy"),
        "the seed list is not the name"
    );
    assert!(p.legacy_config);
    assert!(d.summary().contains("key = value form"));
}

#[test]
fn corpus_config_shapes() {
    let host = Host::new();
    // corpus/mongo-log-parser/cluster0-shard-00-01...MONGODB.log: "Options set by
    // command line" of an Atlas node started with --config automation-mongod.conf.
    // That echo is JSON, and JSON is YAML: the file as the agent writes it.
    let atlas = r#"{"net":{"bindIp":"0.0.0.0","compression":{"compressors":"snappy,zstd,zlib"},"maxIncomingConnections":1500,"maxIncomingConnectionsOverride":["127.0.0.1/32","192.168.232.0/21"],"port":27017,"proxyPort":27020,"tls":{"CAFile":"/etc/pki/tls/certs/atlas-bundle.crt","mode":"requireTLS"}},"processManagement":{"fork":true},"replication":{"replSetName":"atlas-o3y5yd-shard-0"},"security":{"authorization":"enabled","keyFile":"/var/lib/mongodb-mms-automation/keyfile"},"setParameter":{"logComponentVerbosity":"{\"queryStats\":{\"verbosity\":1},\"verbosity\":0}","tlsCATrusts":"[{sha256: \"986E\", roles: [{ role: \"\", db: \"\"}]}]"},"storage":{"dbPath":"/srv/mongodb/atlas-o3y5yd-shard-0-node-1","oplogMinRetentionHours":24,"wiredTiger":{"engineConfig":{"cacheSizeGB":0.5}}},"systemLog":{"destination":"file","logAppend":true,"path":"/srv/mongodb/atlas-o3y5yd-shard-0-node-1/mongodb.log"}}"#;
    let atlas_conf = host.write("srv/automation-mongod.conf", atlas.as_bytes());
    host.mongo(
        400,
        "/var/lib/mongodb-mms-automation/mongodb-linux-x86_64-8.0.4/bin/mongod",
        &["-f", &atlas_conf],
    );
    // corpus/mtools/sharding_360_CSRS.log: a config server replica set member.
    let csrs = host.write(
        "3.6.0/configRepl.conf",
        b"net:\n  port: 27033\nprocessManagement:\n  fork: true\nreplication:\n  replSet: configRepl\n\
          sharding:\n  clusterRole: configsvr\nstorage:\n  dbPath: /3.6.0/data/configRepl/rs1/db\n  \
          wiredTiger:\n    engineConfig:\n      cacheSizeGB: 1.0\nsystemLog:\n  destination: file\n  \
          path: /3.6.0/data/configRepl/rs1/mongod.log\n",
    );
    host.mongo(401, "/usr/bin/mongod", &["--config", &csrs]);
    // corpus/mtools/sharding_360_mongos.log: options { net.port 27017, sharding.configDB, systemLog }.
    let mongos = host.write(
        "3.6.0/mongos.conf",
        b"net: {port: 27017}\nprocessManagement: {fork: true}\nsharding: {configDB: \"configRepl/localhost:27033\"}\n\
          systemLog: {destination: \"file\", path: \"/3.6.0/data/mongos.log\"}\n",
    );
    host.mongo(
        402,
        "/usr/bin/mongos",
        &["--config", &mongos, "--port", "27018"],
    );
    // corpus/mtools/mongod_4.0.10_slowtransactions.log family: audit to a BSON file.
    let audit = host.write(
        "mongodb1.conf",
        b"auditLog:\n  destination: file\n  format: BSON\n  path: /audit/auditLog.bson\nnet:\n  port: 27034\n\
          replication:\n  oplogSizeMB: 2048\n  replSetName: REPL\nsystemLog:\n  destination: file\n  path: /log/mongod.log\n",
    );
    host.mongo(403, "/usr/bin/mongod", &["--config", &audit]);

    let d = host.discover();
    assert_eq!(d.found, 4, "{}", d.summary());
    let a = process(&d, 400);
    assert_eq!(a.replica_set.as_deref(), Some("atlas-o3y5yd-shard-0"));
    assert_eq!(
        a.log_path,
        "/srv/mongodb/atlas-o3y5yd-shard-0-node-1/mongodb.log"
    );
    assert_eq!(a.port, 27017);
    let c = process(&d, 401);
    assert_eq!(
        (c.port, c.replica_set.as_deref()),
        (27033, Some("configRepl"))
    );
    assert_eq!(c.db_path.as_deref(), Some("/3.6.0/data/configRepl/rs1/db"));
    let s = process(&d, 402);
    assert_eq!(
        (s.kind, s.port, s.log_path.as_str()),
        (Kind::Mongos, 27018, "/3.6.0/data/mongos.log")
    );
    let au = process(&d, 403);
    assert_eq!(au.audit_log_path.as_deref(), Some("/audit/auditLog.bson"));
    assert_eq!(au.db_path.as_deref(), Some("/data/db"));
}

#[test]
fn syslog_and_stdout_are_reported_not_collected() {
    let host = Host::new();
    let yaml = host.write(
        "sys.conf",
        b"systemLog:\n  destination: syslog\nnet:\n  port: 27100\n",
    );
    host.mongo(500, "/usr/bin/mongod", &["-f", &yaml]);
    host.mongo(501, "/usr/bin/mongod", &["--port", "27101", "--syslog"]);
    host.mongo(
        502,
        "/usr/bin/mongod",
        &["--port", "27102", "--dbpath", "/d"],
    );
    let file_no_path = host.write("nopath.conf", b"systemLog:\n  destination: file\n");
    host.mongo(503, "/usr/bin/mongod", &["-f", &file_no_path]);
    // The command line's --logpath wins over the file's syslog.
    host.mongo(
        504,
        "/usr/bin/mongod",
        &["-f", &yaml, "--logpath", "/x/504.log", "--port", "27104"],
    );
    let d = host.discover();
    assert!(note(&d, "pid 500 (mongod, user mongod)").contains("syslog"));
    assert!(note(&d, "pid 501 ").contains("syslog"));
    assert!(note(&d, "pid 502 ").contains("stdout"));
    assert!(note(&d, "pid 503 ").contains("no systemLog.path"));
    assert_eq!(process(&d, 504).log_path, "/x/504.log");
    assert_eq!(d.found, 1);
}

#[test]
fn agents_from_config_files() {
    let host = Host::new();
    let mms = host.root.join("etc/mongodb-mms");
    fs::create_dir_all(&mms).unwrap();
    // The shape the agent package installs (mmsApiKey is a secret: never shown).
    fs::write(
        mms.join("automation-agent.config"),
        "#\n# Required\n#\nmmsGroupId=5f0c\nmmsApiKey=SECRETKEY\nmmsBaseUrl=http://om.example.com:8080\n\
         logFile=/var/log/mongodb-mms-automation/automation-agent.log\n\
         mmsConfigBackup=/var/lib/mongodb-mms-automation/mms-cluster-config-backup.json\n\
         logLevel=INFO\nmaxLogFiles=10\nmaxLogFileSize=268435456\n",
    )
    .unwrap();
    fs::write(
        mms.join("monitoring-agent.config"),
        "mmsApiKey=SECRETKEY\nlogFile = /var/log/mongodb-mms/monitoring-agent.log\n",
    )
    .unwrap();
    fs::write(
        mms.join("backup-agent.config"),
        "logFile=/var/log/mongodb-mms-automation/backup-agent.log\n",
    )
    .unwrap();
    let d = host.discover();
    assert_eq!(
        d.agent_log_dir.as_deref(),
        Some("/var/log/mongodb-mms-automation")
    );
    assert_eq!(d.agents.len(), 3);
    assert_eq!(d.found, 1);
    let n = note(&d, "monitoring agent logs to /var/log/mongodb-mms");
    assert!(n.contains("not collected"), "{n}");
    assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    assert!(!d.summary().contains("SECRETKEY"));
    assert!(!d.notes.iter().any(|n| n.contains("SECRETKEY")));

    // No logFile, and a log file collect would not take.
    fs::write(mms.join("automation-agent.config"), "mmsApiKey=SECRETKEY\n").unwrap();
    fs::write(
        mms.join("backup-agent.config"),
        "logFile=/var/log/agents/agent.log\n",
    )
    .unwrap();
    fs::remove_file(mms.join("monitoring-agent.config")).unwrap();
    let d = host.discover();
    note(&d, "automation-agent.config: names no logFile");
    note(&d, "agent.log is not named backup-agent*.log*");
    assert_eq!(d.agent_log_dir.as_deref(), Some("/var/log/agents"));
    assert!(!d.notes.iter().any(|n| n.contains("SECRETKEY")));

    // A relative logFile in a config no running agent reads cannot be placed.
    fs::write(
        mms.join("backup-agent.config"),
        "logFile=backup-agent.log\n",
    )
    .unwrap();
    let d = host.discover();
    note(&d, "relative to an unknown directory");
    assert_eq!(d.found, 0);
}

#[test]
fn agents_from_their_command_lines() {
    let host = Host::new();
    let mms = host.root.join("etc/mongodb-mms");
    fs::create_dir_all(&mms).unwrap();
    fs::write(
        mms.join("automation-agent.config"),
        "logFile=/var/log/mongodb-mms-automation/automation-agent.log\n",
    )
    .unwrap();
    // A container image's agent: -logFile on the command line, relative to its cwd.
    host.process(
        700,
        "mongodb-mms-aut",
        &[
            b"/opt/mongodb-mms-automation/bin/mongodb-mms-automation-agent",
            b"-mmsGroupId",
            b"g",
            b"-logFile",
            b"logs/automation-agent.log",
            b"-pidfilepath",
            b"/run/a.pid",
        ],
        996,
        Some("agent"),
    );
    // A monitoring agent with its own config file.
    let mon = host.write(
        "mon/monitoring-agent.config",
        b"logFile=/var/log/mon/monitoring-agent.log\n",
    );
    host.process(
        701,
        "mongodb-mms-mon",
        &[b"mongodb-mms-monitoring-agent", b"--config", mon.as_bytes()],
        996,
        None,
    );
    let d = host.discover();
    assert_eq!(
        d.agent_log_dir.as_deref(),
        Some(host.file("agent/logs").as_str())
    );
    let auto = d
        .agents
        .iter()
        .find(|a| a.kind == AgentKind::Automation)
        .unwrap();
    assert_eq!(auto.source, "pid 700");
    let monitoring = d
        .agents
        .iter()
        .find(|a| a.kind == AgentKind::Monitoring)
        .unwrap();
    assert_eq!(monitoring.log_file, "/var/log/mon/monitoring-agent.log");
    note(&d, "monitoring agent logs to /var/log/mon");
}

#[test]
fn ops_manager_server() {
    let host = Host::new();
    fs::create_dir_all(host.root.join("opt/mongodb/mms/logs")).unwrap();
    let d = host.discover();
    let expected = host.root.join("opt/mongodb/mms/logs");
    assert_eq!(d.om_log_dir.as_deref(), Some(expected.to_str().unwrap()));
    assert_eq!(d.found, 1);
    let json = d.request_json(false).unwrap();
    assert!(json.contains("\"omLogDir\""), "{json}");

    // A running Ops Manager names its own log directory, which wins.
    host.process(
        800,
        "mms-app",
        &[
            b"/opt/mongodb/mms/jdk/bin/mms-app",
            b"-Xmx4352m",
            b"-Dlog_path=/var/log/om/mms0",
            b"-Dmms.extraPropFile=conf-mms.properties",
            b"com.xgen.svc.mms.MmsMain",
        ],
        0,
        None,
    );
    let d = host.discover();
    assert_eq!(d.om_log_dir.as_deref(), Some("/var/log/om"));
    note(&d, "Ops Manager also logs to");
}

#[test]
fn hostile_process_entries() {
    let host = Host::new();
    // A value that is not UTF-8 cannot go into a JSON request.
    host.process(
        900,
        "mongod",
        &[
            b"mongod",
            b"--logpath",
            b"/var/log/\xff\xfe.log",
            b"--port",
            b"27900",
        ],
        996,
        Some("cwd"),
    );
    // Not UTF-8 where it does not matter: found.
    host.process(
        901,
        "mongod",
        &[
            b"mongod",
            b"--setParameter",
            b"x=\xff",
            b"--logpath",
            b"/l/901.log",
            b"--port",
            b"27901",
        ],
        996,
        Some("cwd"),
    );
    // comm says mongod but cmdline is gone: it exited while being read.
    let gone = host.process(902, "mongod", &[b"mongod"], 996, None);
    fs::remove_file(gone.join("cmdline")).unwrap();
    // A zombie: empty cmdline, State Z.
    let zombie = host.process(903, "mongod", &[], 996, None);
    fs::write(zombie.join("cmdline"), b"").unwrap();
    fs::write(
        zombie.join("status"),
        "Name:\tmongod\nState:\tZ (zombie)\nUid:\t996\t996\t996\t996\n",
    )
    .unwrap();
    // Relative log path and no readable cwd.
    host.process(
        904,
        "mongod",
        &[b"mongod", b"--logpath", b"rel.log", b"--port", b"27904"],
        996,
        None,
    );
    // Multi-byte characters everywhere a name can be.
    host.process(
        905,
        "mongod",
        &[
            "mongod",
            "--logpath",
            "журнал/mongod.log",
            "--dbpath",
            "données/db",
            "--replSet",
            "réplique-東京",
            "--port",
            "27905",
        ]
        .map(str::as_bytes),
        996,
        Some("wörk/日本"),
    );
    // Two processes on one port: the first is kept.
    host.process(
        906,
        "mongod",
        &[b"mongod", b"--logpath", b"/l/906.log", b"--port", b"27901"],
        996,
        Some("cwd"),
    );
    // A bad port, a replica set name collect refuses, a missing value.
    host.process(
        907,
        "mongod",
        &[b"mongod", b"--logpath", b"/l/907.log", b"--port", b"70000"],
        996,
        None,
    );
    host.process(
        908,
        "mongod",
        &[
            b"mongod",
            b"--logpath",
            b"/l/908.log",
            b"--port",
            b"27908",
            b"--replSet",
            b"..",
        ],
        996,
        None,
    );
    host.process(909, "mongod", &[b"mongod", b"--logpath"], 996, None);
    host.process(
        910,
        "mongod",
        &[
            b"mongod",
            b"--logpath",
            b"/var/log/mongodb/",
            b"--port",
            b"27910",
        ],
        996,
        None,
    );
    // An unknown owner, and not a mongo process at all.
    host.process(
        911,
        "mongos",
        &[
            b"/usr/bin/mongos",
            b"--logpath",
            b"/l/911.log",
            b"--port",
            b"27911",
        ],
        4242,
        None,
    );
    host.process(912, "bash", &[b"bash", b"-c", b"mongod --port 1"], 0, None);
    // argv[0] names mongod though comm does not (started through a wrapper name).
    host.process(
        913,
        "mongod-wrapper",
        &[
            b"/usr/local/bin/mongod",
            b"--logpath=/l/913.log",
            b"--port",
            b"27913",
        ],
        996,
        None,
    );
    // Junk in the process directory.
    fs::create_dir_all(host.root.join("proc/914")).unwrap();
    fs::write(host.root.join("proc/self-junk"), "x").unwrap();

    let d = host.discover();
    assert!(note(&d, "pid 900 ").contains("not UTF-8"));
    assert_eq!(process(&d, 901).log_path, "/l/901.log");
    assert!(note(&d, "pid 902 ").contains("exited while it was being read"));
    assert!(note(&d, "pid 903 ").contains("zombie"));
    assert!(note(&d, "pid 904 ").contains("working directory cannot be read"));
    let p = process(&d, 905);
    assert_eq!(p.log_path, host.file("wörk/日本/журнал/mongod.log"));
    assert_eq!(
        p.db_path.as_deref(),
        Some(host.file("wörk/日本/données/db").as_str())
    );
    assert_eq!(p.replica_set.as_deref(), Some("réplique-東京"));
    assert!(note(&d, "pid 906 ").contains("port 27901 is also that of pid 901"));
    assert!(note(&d, "pid 907 ").contains("not a port number"));
    assert!(note(&d, "pid 908 ").contains("collect would not accept it"));
    assert!(note(&d, "pid 909 ").contains("has no value"));
    assert!(note(&d, "pid 910 ").contains("names a directory"));
    assert_eq!(process(&d, 911).owner, "uid 4242");
    assert!(!d.notes.iter().any(|n| n.contains("pid 912 ")));
    assert_eq!(process(&d, 913).kind, Kind::Mongod);
    assert!(!d.notes.iter().any(|n| n.contains("pid 914 ")));
    assert_eq!(d.found, 4, "{}", d.summary());
}

#[test]
fn hostile_config_files() {
    let host = Host::new();
    let invalid = host.write(
        "bad.yaml",
        b"systemLog:\n  path: [unclosed\nnet:\n  port: 1\n",
    );
    host.mongo(1000, "/usr/bin/mongod", &["--config", &invalid]);
    host.mongo(
        1001,
        "/usr/bin/mongod",
        &["--config", "/no/such/mongod.conf"],
    );
    let dir = host.file("");
    host.mongo(1002, "/usr/bin/mongod", &["--config", &dir]);
    let binary = host.write("binary.conf", b"systemLog:\n  path: /l/\xff.log\n");
    host.mongo(1003, "/usr/bin/mongod", &["--config", &binary]);
    let words = host.write("words.conf", b"this is not a config file\n");
    host.mongo(1004, "/usr/bin/mongod", &["--config", &words]);
    let empty = host.write("empty.conf", b"# nothing set\n");
    host.mongo(
        1005,
        "/usr/bin/mongod",
        &[
            "--config",
            &empty,
            "--logpath",
            "/l/1005.log",
            "--port",
            "28005",
        ],
    );
    let dup = host.write("dup.conf", b"net:\n  port: 28006\n  port: 28016\nsystemLog:\n  destination: file\n  path: /l/1006.log\n");
    host.mongo(1006, "/usr/bin/mongod", &["--config", &dup]);
    let mut huge = b"systemLog:\n  path: /l/huge.log\n".to_vec();
    huge.resize(5 << 20, b'#');
    let huge = host.write("huge.conf", &huge);
    host.mongo(1007, "/usr/bin/mongod", &["--config", &huge]);
    let secret = host.write(
        "secret.conf",
        b"systemLog:\n  destination: file\n  path: /l/1008.log\nnet:\n  port: 28008\n",
    );
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    host.mongo(1008, "/usr/bin/mongod", &["--config", &secret]);
    let tabs = host.write("tabs.conf", "systemLog:\n\tpath: /l/ü.log\n".as_bytes());
    host.mongo(
        1009,
        "/usr/bin/mongod",
        &["--config", &tabs, "--port", "28009"],
    );

    let d = host.discover();
    let n = note(&d, "pid 1000 ");
    assert!(n.contains("is not valid YAML") && n.contains("line"), "{n}");
    assert!(note(&d, "pid 1001 ").contains("not found"));
    assert!(note(&d, "pid 1002 ").contains("is a directory"));
    assert!(note(&d, "pid 1003 ").contains("not UTF-8"));
    assert!(note(&d, "pid 1004 ").contains("neither"));
    assert_eq!(process(&d, 1005).db_path.as_deref(), Some("/data/db"));
    assert_eq!(process(&d, 1006).port, 28016);
    assert!(note(&d, "pid 1006 ").contains("duplicated key"));
    assert!(note(&d, "pid 1007 ").contains("larger than"));
    if is_root() {
        // chmod 000 does not stop root.
        assert_eq!(process(&d, 1008).port, 28008);
    } else {
        assert!(note(&d, "pid 1008 ").contains("permission denied"));
    }
    // Whatever the tab does to it, no panic and a valid request (checked).
    let _ = d.notes.iter().find(|n| n.contains("pid 1009 "));
}

#[test]
fn awkward_host_names() {
    let host = Host::new();
    fs::write(host.root.join("proc/sys/kernel/hostname"), "a/b\n").unwrap();
    host.mongo(1100, "/usr/bin/mongod", &["--logpath", "/l/a.log"]);
    let d = host.discover();
    assert_eq!(d.hostname, "localhost");
    note(&d, "cannot name the host");
    assert_eq!(d.found, 1);

    // No hostname file: gethostname(2).
    fs::remove_file(host.root.join("proc/sys/kernel/hostname")).unwrap();
    let d = host.discover();
    assert!(!d.hostname.is_empty());
}

#[test]
fn unreadable_agent_config() {
    let host = Host::new();
    let mms = host.root.join("etc/mongodb-mms");
    fs::create_dir_all(&mms).unwrap();
    let path = mms.join("automation-agent.config");
    fs::write(
        &path,
        "logFile=/var/log/mongodb-mms-automation/automation-agent.log\n",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    let d = host.discover();
    if is_root() {
        assert_eq!(d.found, 1);
    } else {
        assert!(note(&d, "automation-agent.config").contains("permission denied"));
        assert_eq!(d.found, 0);
    }
    // A config that is a directory, and binary junk.
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    fs::write(
        mms.join("backup-agent.config"),
        b"\x00\xff\xfe logFile=\xff\n",
    )
    .unwrap();
    let d = host.discover();
    check(&d);
    assert_eq!(d.found, 0, "{}", d.summary());
}

#[test]
fn etc_root_stands_for_etc() {
    // A container that mounts the host's /etc elsewhere: the processes
    // still name /etc/..., which is read under the redirected root.
    let host = Host::new();
    fs::write(
        host.root.join("etc/mongod.conf"),
        "systemLog:\n  destination: file\n  path: /var/log/mongodb/mongod.log\nnet:\n  port: 27017\n",
    )
    .unwrap();
    host.mongo(1200, "/usr/bin/mongod", &["--config", "/etc/mongod.conf"]);
    fs::create_dir_all(host.root.join("etc/mongodb-mms")).unwrap();
    fs::write(
        host.root.join("etc/mongodb-mms/custom.config"),
        "logFile=/var/log/mongodb-mms-automation/automation-agent.log\n",
    )
    .unwrap();
    host.process(
        1201,
        "mongodb-mms-aut",
        &[
            b"mongodb-mms-automation-agent",
            b"-f",
            b"/etc/mongodb-mms/custom.config",
        ],
        996,
        None,
    );
    host.mongo(
        1202,
        "/usr/bin/mongod",
        &["--config", "/etc/missing.conf", "--port", "27018"],
    );
    let d = host.discover();
    let p = process(&d, 1200);
    assert_eq!(p.log_path, "/var/log/mongodb/mongod.log");
    assert_eq!(p.config.as_deref(), Some("/etc/mongod.conf"));
    assert_eq!(
        d.agent_log_dir.as_deref(),
        Some("/var/log/mongodb-mms-automation")
    );
    let n = note(&d, "pid 1202 ");
    assert!(n.contains("not found (read at "), "{n}");
}
