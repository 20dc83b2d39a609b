//! `cargo xtask regen` and `cargo xtask check`: keeping the spec, the generated client and the
//! facade in step.
//!
//! `regen` canonicalises `openapi.json` (optionally replacing it with a new upstream copy and
//! printing what changed) and rewrites the committed snapshot of the generated client.
//! `check` fails on every kind of drift, each with a readable message and the fix command.

#[path = "../../fastvm-api/codegen.rs"]
pub mod codegen;

pub mod canon;
pub mod contracts;
pub mod coverage;
pub mod enums;
pub mod facade_types;
pub mod fixtures;
pub mod grow;
pub mod imports;
pub mod lint;
pub mod summary;
pub mod surface;
pub mod test_tables;
pub mod versions;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The command that fixes drift between the spec and the committed files.
pub const FIX: &str = "cargo xtask regen";

/// Longest diff printed in full; beyond that the rest is counted, not shown.
const MAX_DIFF_LINES: usize = 120;

/// The files of the workspace xtask reads and writes.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace root.
    pub root: PathBuf,
}

impl Workspace {
    /// The workspace this xtask was built in.
    pub fn locate() -> Self {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        Workspace {
            root: manifest.parent().unwrap_or(manifest).to_path_buf(),
        }
    }

    /// The canonical spec at the root.
    pub fn spec(&self) -> PathBuf {
        self.root.join("openapi.json")
    }

    /// The spec path build.rs reads (a link to the root spec, so the crate packages it).
    pub fn crate_spec(&self) -> PathBuf {
        self.root.join("fastvm-api/openapi.json")
    }

    /// The committed snapshot of the generated client.
    pub fn snapshot(&self) -> PathBuf {
        self.root.join("fastvm-api/generated/fastvm_api.rs")
    }

    /// The facade's sources.
    pub fn facade_src(&self) -> PathBuf {
        self.root.join("fastvm/src")
    }

    /// The contract and end-to-end tests.
    pub fn tests_dir(&self) -> PathBuf {
        self.root.join("tests/tests")
    }

    /// The contract coverage table, generated from the tests.
    pub fn coverage_doc(&self) -> PathBuf {
        self.root.join(COVERAGE_DOC)
    }
}

/// Where the contract coverage table is written, relative to the workspace.
pub const COVERAGE_DOC: &str = "docs/contract-coverage.md";

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Which check failed.
    pub check: &'static str,
    /// What is wrong (may span lines, e.g. a diff).
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error[{}]:", self.check)?;
        for line in self.message.lines() {
            writeln!(f, "  {line}")?;
        }
        write!(f, "  fix: {}", self.fix)
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A unified diff from `old` to `new`, cut after `MAX_DIFF_LINES` lines.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= MAX_DIFF_LINES {
        return text;
    }
    let mut out = lines[..MAX_DIFF_LINES].join("\n");
    out.push_str(&format!("\n... ({} more diff lines)\n", lines.len() - MAX_DIFF_LINES));
    out
}

/// Runs `codegen::generate`, turning a progenitor panic into an error message.
///
/// The pre-flight lint should have caught every shape that panics; this is the backstop for
/// the ones nobody has met yet.
pub fn generate(spec_json: &str) -> Result<String, String> {
    // The panic hook is process-global: serialise the swap so concurrent callers (tests) cannot
    // leave the silent hook installed.
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = HOOK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let hook = std::panic::take_hook();
    // Silence the default "thread panicked at" report: the message is returned instead.
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| codegen::generate(spec_json));
    std::panic::set_hook(hook);
    match result {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            Err(format!(
                "progenitor panicked: {msg}\nThis spec shape is not caught by the pre-flight lint yet; add a rule \
                 for it to xtask/src/lint.rs (or an adaptation to codegen::preprocess)."
            ))
        }
    }
}

/// Check 1: the spec is canonical, valid OpenAPI 3.0, and what build.rs reads is the same file.
///
/// Also returns the parsed spec (`None` when `text` does not parse), so the other checks need
/// not parse it again.
pub fn check_spec_text(text: &str, crate_text: Option<&str>) -> (Vec<Failure>, Option<Value>) {
    let mut out = Vec::new();
    let spec = match canon::parse_spec(text, None) {
        Ok(v) => v,
        Err(e) => {
            out.push(Failure {
                check: "spec-valid",
                message: format!("openapi.json: {e}"),
                fix: "repair openapi.json (or take a fresh upstream copy with `cargo xtask regen --from PATH`)".into(),
            });
            return (out, None);
        }
    };
    let canonical = canon::canonical_text(&spec);
    if canonical != text {
        out.push(Failure {
            check: "spec-canonical",
            message: format!(
                "openapi.json is not in canonical form (sorted keys, 2-space indent, trailing newline); only the \
                 formatting differs, the content is unchanged:\n{}",
                unified_diff(text, &canonical, "openapi.json", "openapi.json (canonical)")
            ),
            fix: FIX.into(),
        });
    }
    let errors = lint::validate(&spec);
    if !errors.is_empty() {
        out.push(Failure {
            check: "spec-valid",
            message: format!("openapi.json is not valid OpenAPI 3.0:\n- {}", errors.join("\n- ")),
            fix: "repair openapi.json, then run `cargo xtask regen`".into(),
        });
    }
    if let Some(crate_text) = crate_text
        && crate_text != text
    {
        out.push(Failure {
            check: "spec-link",
            message: format!(
                "fastvm-api/openapi.json (what build.rs generates from) differs from the root openapi.json:\n{}",
                unified_diff(text, crate_text, "openapi.json", "fastvm-api/openapi.json")
            ),
            fix: "make fastvm-api/openapi.json a symlink to ../openapi.json again".into(),
        });
    }
    (out, Some(spec))
}

/// The failure named `check` listing `errors`, or none when there are no errors. With a
/// `heading`, the errors are a bulleted list under it; without, one per line.
fn failures_of(check: &'static str, heading: Option<&str>, errors: Vec<String>, fix: &str) -> Vec<Failure> {
    if errors.is_empty() {
        return Vec::new();
    }
    let message = match heading {
        Some(heading) => format!("{heading}\n- {}", errors.join("\n- ")),
        None => errors.join("\n"),
    };
    vec![Failure {
        check,
        message,
        fix: fix.into(),
    }]
}

/// Check 5: the pre-flight lint.
pub fn check_preflight(spec: &Value) -> Vec<Failure> {
    failures_of(
        "preflight",
        Some("openapi.json uses constructs progenitor mishandles:"),
        lint::preflight(spec),
        "change the spec, or teach codegen::preprocess (fastvm-api/codegen.rs) to adapt the construct",
    )
}

/// Check 2: the committed snapshot is what build.rs generates from `spec_text` now.
pub fn check_snapshot(spec_text: &str, snapshot: Option<&str>) -> Vec<Failure> {
    let generated = match generate(spec_text) {
        Ok(code) => code,
        Err(e) => {
            return vec![Failure {
                check: "generate",
                message: format!("code generation fails: {e}"),
                fix: "fix the spec or codegen.rs; see the pre-flight errors above".into(),
            }];
        }
    };
    match snapshot {
        None => vec![Failure {
            check: "snapshot",
            message: "fastvm-api/generated/fastvm_api.rs is missing".into(),
            fix: FIX.into(),
        }],
        Some(s) if s != generated => vec![Failure {
            check: "snapshot",
            message: format!(
                "the committed generated client differs from what build.rs generates now:\n{}",
                unified_diff(
                    s,
                    &generated,
                    "fastvm-api/generated/fastvm_api.rs (committed)",
                    "generated now"
                )
            ),
            fix: FIX.into(),
        }],
        Some(_) => Vec::new(),
    }
}

/// Check 3: every operation is reachable through the facade.
pub fn check_coverage(spec: &Value, sources: &[(String, String)]) -> Vec<Failure> {
    failures_of(
        "facade-coverage",
        None,
        coverage::check(spec, sources, coverage::NOT_IN_FACADE),
        "expose the operation in fastvm/src/resources (or list it in NOT_IN_FACADE in xtask/src/coverage.rs \
         with the reason); correct any `call(\"..\")` label to the spec's operationId",
    )
}

/// Check 4: every string that documents values is classified open or closed in the spec.
pub fn check_enums(spec: &Value) -> Vec<Failure> {
    failures_of(
        "string-enums",
        None,
        enums::check(spec),
        "edit openapi.json as each line says, then run `cargo xtask regen`",
    )
}

/// Check 6: the spec states every per-operation and per-schema fact the workspace derives from
/// it (`x-fastvm-*`, see `fastvm-api/facts.rs`).
pub fn check_facts(spec: &Value) -> Vec<Failure> {
    failures_of(
        "spec-facts",
        Some("openapi.json lacks facts the SDK derives its tables from:"),
        codegen::facts::problems(spec),
        "edit openapi.json as each line says (the extensions are documented in CONTRIBUTING.md), then run \
         `cargo xtask regen`",
    )
}

/// Check 7: every operation has a contract test and an error-mapping test, and the coverage
/// table in `docs/` is what the tests say.
pub fn check_contracts(spec: &Value, tests: &[contracts::TestFn], doc: Option<&str>) -> Vec<Failure> {
    // The file of an operation's tests: its tag's contract file when there is one.
    let files: Vec<(String, String)> = codegen::operations(spec)
        .filter_map(|(_, _, _, op)| {
            let id = op.get("operationId")?.as_str()?.to_string();
            let tag = op.pointer("/tags/0").and_then(Value::as_str).unwrap_or("<group>");
            let file = format!("contract_{}.rs", tag.replace('-', "_"));
            let file = match tests.iter().any(|t| t.file == file) || tag == "<group>" {
                true => format!("tests/tests/{file}"),
                false => format!("tests/tests/{file} (a new file, as for the other groups)"),
            };
            Some((id, file))
        })
        .collect();
    let mut out = failures_of(
        "contract-coverage",
        None,
        contracts::missing_in(&files, tests),
        "add the tests named above (xtask/src/contracts.rs says how a test is found)",
    );
    let want = contracts::render(&coverage_rows(spec), tests);
    if doc != Some(want.as_str()) {
        out.push(Failure {
            check: "contract-coverage",
            message: format!(
                "{COVERAGE_DOC} is not what the tests cover now:\n{}",
                unified_diff(doc.unwrap_or(""), &want, COVERAGE_DOC, "from the tests now")
            ),
            fix: FIX.into(),
        });
    }
    out
}

/// Check 9: the hand-written per-operation pieces of the suite cover every operation.
pub fn check_test_tables(spec: &Value, ws: &Workspace, facade: &[(String, String)]) -> Vec<Failure> {
    let dir = ws.tests_dir();
    failures_of(
        "test-tables",
        None,
        test_tables::check(spec, facade, |file| std::fs::read_to_string(dir.join(file)).ok()),
        "add the lines named above (the tests would fail the same way after a build)",
    )
}

/// Check 8: the tests' answer fixtures match the spec.
pub fn check_fixtures(spec: &Value, ws: &Workspace) -> Vec<Failure> {
    failures_of(
        "fixtures",
        None,
        fixtures::check(spec, &ws.root.join(fixtures::DIR)),
        "edit the fixture files named above (tests/tests/tolerant_reader.rs reads them)",
    )
}

/// `(operationId, METHOD, path)` of every operation, in the spec's order.
fn coverage_rows(spec: &Value) -> Vec<(String, String, String)> {
    codegen::facts::operations(spec)
        .into_iter()
        .map(|op| (op.id, op.method, op.path))
        .collect()
}

/// Compares the committed spec with an upstream copy.
pub fn check_upstream(spec: &Value, upstream_text: &str, upstream_path: &Path) -> Vec<Failure> {
    let fix = format!("cargo xtask regen --from {}", upstream_path.display());
    let upstream = match canon::parse_spec(upstream_text, Some(upstream_path)) {
        Ok(v) => v,
        Err(e) => {
            return vec![Failure {
                check: "upstream",
                message: format!("{}: {e}", upstream_path.display()),
                fix,
            }];
        }
    };
    let (ours, theirs) = (canon::canonical_text(spec), canon::canonical_text(&upstream));
    if ours == theirs {
        return Vec::new();
    }
    let summary = summary::summarize(spec, &upstream);
    vec![Failure {
        check: "upstream",
        message: format!(
            "openapi.json differs from the upstream spec {}.\n{}\n{}",
            upstream_path.display(),
            summary.render(),
            unified_diff(&ours, &theirs, "openapi.json", "upstream (canonical)")
        ),
        fix,
    }]
}

/// The version rule between `fastvm` and `fastvm-api` ([`versions`]).
pub fn check_versions(ws: &Workspace) -> Vec<Failure> {
    let read = |p: &str| std::fs::read_to_string(ws.root.join(p));
    match (read("Cargo.toml"), read("fastvm/Cargo.toml")) {
        (Ok(root), Ok(facade)) => versions::check(&root, &facade),
        (Err(e), _) | (_, Err(e)) => vec![Failure {
            check: "versions",
            message: format!("cannot read Cargo.toml or fastvm/Cargo.toml: {e}"),
            fix: "run from a complete checkout".into(),
        }],
    }
}

/// Runs every check on the workspace. An empty result means everything is in step.
pub fn check(ws: &Workspace, upstream: Option<&Path>) -> Vec<Failure> {
    let text = match read(&ws.spec()) {
        Ok(t) => t,
        Err(e) => {
            return vec![Failure {
                check: "spec-valid",
                message: e,
                fix: "restore openapi.json".into(),
            }];
        }
    };
    let crate_text = read(&ws.crate_spec());
    let (mut failures, spec) = check_spec_text(&text, crate_text.as_deref().ok());
    if let Err(e) = &crate_text {
        failures.push(Failure {
            check: "spec-link",
            message: e.clone(),
            fix: "make fastvm-api/openapi.json a symlink to ../openapi.json".into(),
        });
    }
    let Some(spec) = spec else {
        return failures;
    };
    // An invalid spec (say OpenAPI 3.1) also fails generation, for the reason already reported:
    // generate only from a valid, lint-clean spec.
    let valid = !failures.iter().any(|f| f.check == "spec-valid");
    let preflight = check_preflight(&spec);
    let lint_clean = preflight.is_empty() && codegen::facts::problems(&spec).is_empty();
    failures.extend(preflight);
    let snapshot = std::fs::read_to_string(ws.snapshot()).ok();
    if valid && lint_clean {
        // Generate from the very file build.rs reads, so the check is about what ships.
        let build_input = crate_text.as_deref().unwrap_or(&text);
        failures.extend(check_snapshot(build_input, snapshot.as_deref()));
    }
    // The facade's files, read once: coverage, its type list, its layers and the test tables.
    match facade_sources(ws) {
        Ok(sources) => {
            failures.extend(check_coverage(&spec, &sources));
            failures.extend(check_test_tables(&spec, ws, &sources));
            let src = ws.facade_src();
            let src = src.strip_prefix(&ws.root).unwrap_or(&src);
            failures.extend(imports::check_imports(&sources, src));
            if let Some(snapshot) = &snapshot {
                failures.extend(facade_types::check_types_surface(snapshot, &sources));
            }
        }
        Err(e) => failures.push(Failure {
            check: "facade-coverage",
            message: format!("cannot read {}: {e}", ws.facade_src().display()),
            fix: "run from a complete checkout".into(),
        }),
    }
    failures.extend(check_enums(&spec));
    failures.extend(check_facts(&spec));
    failures.extend(check_fixtures(&spec, ws));
    failures.extend(check_versions(ws));
    match contracts::tests_in(&ws.tests_dir()) {
        Ok(tests) => failures.extend(check_contracts(
            &spec,
            &tests,
            std::fs::read_to_string(ws.coverage_doc()).ok().as_deref(),
        )),
        Err(e) => failures.push(Failure {
            check: "contract-coverage",
            message: format!("cannot read {}: {e}", ws.tests_dir().display()),
            fix: "run from a complete checkout".into(),
        }),
    }
    if let Some(path) = upstream {
        match read(path) {
            Ok(up) => failures.extend(check_upstream(&spec, &up, path)),
            Err(e) => failures.push(Failure {
                check: "upstream",
                message: e,
                fix: "pass a readable file".into(),
            }),
        }
    }
    failures
}

/// What `regen` did, for the terminal.
#[derive(Debug, Default)]
pub struct RegenReport {
    /// What changed in the spec since `git HEAD` (or, without git, since the file on disk).
    pub summary: summary::Summary,
    /// What that does to the generated client's public API, read off the generated code
    /// (`git HEAD`'s snapshot against the new one), each change with the facade files using it.
    pub surface: Vec<surface::Change>,
    /// What the spec is compared with.
    pub baseline: String,
    /// How many `x-fastvm-*` extensions were carried over into a `--from` copy.
    pub carried: usize,
    /// Whether openapi.json was rewritten.
    pub spec_written: bool,
    /// Whether the snapshot was rewritten.
    pub snapshot_written: bool,
    /// Whether the contract coverage table was rewritten.
    pub coverage_written: bool,
}

impl fmt::Display for RegenReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Compared with {}.", self.baseline)?;
        if self.carried > 0 {
            writeln!(
                f,
                "{} x-fastvm-* extension(s) carried over from the previous openapi.json.",
                self.carried
            )?;
        }
        f.write_str(&self.summary.render_plain())?;
        f.write_str(&surface::render(&self.surface))?;
        let said = |b| if b { "rewritten" } else { "unchanged" };
        writeln!(f, "openapi.json: {}", said(self.spec_written))?;
        writeln!(f, "fastvm-api/generated/fastvm_api.rs: {}", said(self.snapshot_written))?;
        writeln!(f, "{COVERAGE_DOC}: {}", said(self.coverage_written))?;
        write!(
            f,
            "next: run `cargo xtask check` (facade coverage and enum classification may need updates)"
        )
    }
}

/// Refuses a spec generation cannot use, before anything is written.
pub fn admit(spec: &Value) -> Result<(), String> {
    let mut errors = lint::validate(spec);
    if errors.is_empty() {
        errors = lint::preflight(spec);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("refusing the spec:\n- {}", errors.join("\n- ")))
    }
}

/// `cargo xtask regen [--from PATH]`: writes the canonical spec (from `from` if given) and the
/// snapshot of the generated client.
pub fn regen(ws: &Workspace, from: Option<&Path>) -> Result<RegenReport, String> {
    let current_text = read(&ws.spec())?;
    let current = canon::parse_spec(&current_text, None).map_err(|e| format!("openapi.json: {e}"));
    // The baseline is what is committed: an edit of openapi.json in place is a change too.
    let head_spec = git_show(ws, "openapi.json").and_then(|t| canon::parse_spec(&t, None).ok());
    let head_snapshot = git_show(ws, "fastvm-api/generated/fastvm_api.rs");
    let mut carried = 0;
    let new_spec = match from {
        Some(path) => {
            let mut upstream =
                canon::parse_spec(&read(path)?, Some(path)).map_err(|e| format!("{}: {e}", path.display()))?;
            // An upstream copy knows nothing of our `x-fastvm-*` facts: they are kept wherever
            // the same operation, response, schema or property is still there.
            if let Ok(current) = &current {
                carried = carry_extensions(current, &mut upstream);
            }
            upstream
        }
        None => current.clone()?,
    };
    admit(&new_spec)?;
    let canonical = canon::canonical_text(&new_spec);
    // Generate before writing anything, so a failure leaves the workspace untouched.
    let code = generate(&canonical)?;
    let mut report = RegenReport {
        carried,
        ..RegenReport::default()
    };
    match (&head_spec, &current) {
        (Some(head), _) => {
            report.baseline = "openapi.json at git HEAD".into();
            report.summary = summary::summarize(head, &new_spec);
        }
        (None, Ok(old)) => {
            report.baseline = "openapi.json as it was on disk (no git HEAD to compare with)".into();
            report.summary = summary::summarize(old, &new_spec);
        }
        (None, Err(_)) => report.baseline = "nothing (openapi.json did not parse)".into(),
    }
    let old_code = head_snapshot.or_else(|| std::fs::read_to_string(ws.snapshot()).ok());
    if let Some(old_code) = old_code
        && let (Ok(old), Ok(new)) = (surface::of(&old_code), surface::of(&code))
    {
        let sources = facade_sources(ws).unwrap_or_default();
        report.surface = surface::diff(&old, &new, &sources);
    }
    if canonical != current_text {
        write(&ws.spec(), &canonical)?;
        report.spec_written = true;
    }
    if let Ok(tests) = contracts::tests_in(&ws.tests_dir()) {
        let doc = contracts::render(&coverage_rows(&new_spec), &tests);
        if std::fs::read_to_string(ws.coverage_doc()).ok().as_deref() != Some(doc.as_str()) {
            write(&ws.coverage_doc(), &doc)?;
            report.coverage_written = true;
        }
    }
    if std::fs::read_to_string(ws.snapshot()).ok().as_deref() != Some(code.as_str()) {
        if let Some(dir) = ws.snapshot().parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        write(&ws.snapshot(), &code)?;
        report.snapshot_written = true;
    }
    Ok(report)
}

/// The facade's sources as `(path, text)`, paths relative to the workspace (short and clickable
/// from the root in messages).
fn facade_sources(ws: &Workspace) -> std::io::Result<Vec<(String, String)>> {
    Ok(coverage::read_sources(&ws.facade_src())?
        .into_iter()
        .map(|(p, text)| {
            let rel = Path::new(&p).strip_prefix(&ws.root).map(|r| r.display().to_string());
            (rel.unwrap_or(p), text)
        })
        .collect())
}

/// Copies every `x-fastvm-*` member of `from` into `into` where `into` has the same object
/// (same JSON pointer) without that member; returns how many it copied.
pub fn carry_extensions(from: &Value, into: &mut Value) -> usize {
    if let (Value::Array(f), Value::Array(i)) = (&from, &mut *into) {
        // Lists (parameters): an element is the same when its `name` and `in` are.
        let id = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
        let mut n = 0;
        for (at, element) in i.iter_mut().enumerate() {
            let same = f
                .iter()
                .find(|x| id(x) == id(element) && id(element) != (None, None))
                .or_else(|| f.get(at).filter(|_| id(element) == (None, None)));
            if let Some(same) = same {
                n += carry_extensions(same, element);
            }
        }
        return n;
    }
    let (Value::Object(f), Value::Object(i)) = (from, into) else {
        return 0;
    };
    let mut n = 0;
    for (key, value) in f {
        if key.starts_with("x-fastvm-") {
            if !i.contains_key(key) {
                i.insert(key.clone(), value.clone());
                n += 1;
            }
        } else if let Some(child) = i.get_mut(key) {
            n += carry_extensions(value, child);
        }
    }
    n
}

/// `path` (relative to the workspace) as committed at `git HEAD`, if the workspace is a git
/// checkout that has it.
fn git_show(ws: &Workspace, path: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&ws.root)
        .args(["show", &format!("HEAD:./{path}")])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
