//! The UI's TypeScript bindings (`ui/src/bindings`), written by this crate's tests.
//!
//! - One declaration file per type that crosses the IPC boundary (and per type those use),
//!   from the Rust types by ts-rs: the views of sync-core, this crate's command payloads, the
//!   domain's vocabularies and the platform's DTOs the app passes on.
//! - `commands.ts`: the `Commands` table (each command's arguments and result) read from the
//!   commands' own signatures in `commands.rs`, and the `Events` table from [`crate::events`].
//!   `ui/src/api.ts` types `call` and `on` with them.
//!
//! The test rewrites the directory; `scripts/test` fails when the result differs from what is
//! committed, and the UI's type check fails where a screen uses a name or a field that is no
//! longer there. Why ts-rs and a signature reader rather than tauri-specta: tauri-specta's
//! Tauri 2 line is still a release candidate pinned to a specta release candidate, while
//! ts-rs is stable and derive-only, and the domain already used it for its vocabularies; the
//! price is this small reader of `fn` signatures, which fails the test on any parameter or
//! result type it cannot name instead of guessing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use ts_rs::{Config, TS};

/// Every type a command takes or returns, or an event carries; each is exported with the
/// types it uses. Names are what the command signatures call them.
macro_rules! exported {
    ($cfg:expr; $($name:ident => $t:ty),* $(,)?) => {{
        let mut names = BTreeMap::new();
        $(
            <$t as TS>::export_all($cfg).expect(concat!("export ", stringify!($t)));
            names.insert(stringify!($name), <$t as TS>::ident($cfg));
        )*
        names
    }};
}

/// Commands whose result holds the platform's JSON passed through (`serde_json::Value`),
/// with the platform type each `Value` is (the platform writes it from that very type): what
/// the UI may rely on. Other `Value`s stay `JsonValue`.
const PASSED_THROUGH: &[(&str, &str)] = &[
    ("profile", "User"),
    ("users", "Page<User>"),
    ("practitioners", "UserDirectoryEntry"),
    ("shares", "DocumentShare"),
];

/// Parameters the shell fills in itself, not the UI.
const SHELL_PARAMETERS: &[&str] = &["State", "Cmd", "AppHandle"];

struct Generated {
    /// TypeScript name of each exported type, by the Rust name signatures use.
    names: BTreeMap<&'static str, String>,
    /// Import path (from the bindings directory) of each TypeScript name.
    paths: BTreeMap<String, String>,
}

fn export(cfg: &Config) -> Generated {
    use crate::commands::{
        Body, Conflict, DocumentView, FileUpload, NewTextDocument, PatientView, Resolution,
    };
    use domain::dto::{DocumentShare, Page, User, UserDirectoryEntry};
    use sync_core::rows::LogLine;
    use sync_core::views::{
        DocumentFilter, DocumentSummary, LogFilter, NewPatientOutcome, PatientPage, RejectedEdit,
    };
    let names = exported!(cfg;
        AppStatus => crate::state::AppStatus,
        AppError => crate::error::AppError,
        Progress => crate::events::Progress,
        UpdateInfo => crate::updates::UpdateInfo,
        PatientPage => PatientPage,
        PatientView => PatientView,
        NewPatientOutcome => NewPatientOutcome,
        DocumentFilter => DocumentFilter,
        DocumentSummary => DocumentSummary,
        DocumentView => DocumentView,
        Body => Body,
        NewTextDocument => NewTextDocument,
        FileUpload => FileUpload,
        Conflict => Conflict,
        Resolution => Resolution,
        RejectedEdit => RejectedEdit,
        LogFilter => LogFilter,
        LogLine => LogLine,
        DocumentRow => sync_core::rows::DocumentRow,
        ProviderEntry => domain::dto::ProviderEntry,
        Job => sync_core::online::Job,
        JobStatus => domain::JobStatus,
        AuditQuery => domain::dto::AuditQuery,
        AuditEntry => domain::dto::AuditEntry,
        Provider => domain::dto::Provider,
        NewProvider => domain::dto::NewProvider,
        ConnectionStep => domain::dto::ConnectionStep,
        CarepatronState => domain::dto::CarepatronState,
        DocumentDigest => sync_core::views::DocumentDigest,
        Trend => sync_core::views::Trend,
        DiskUse => sync_core::files::DiskUse,
        PatientFiles => sync_core::files::PatientFiles,
        LinkReview => domain::dto::LinkReview,
        Inquiry => domain::dto::Inquiry,
        InquiryStatus => domain::InquiryStatus,
        PullProgress => crate::events::PullProgress,
        User => User,
        UserDirectoryEntry => UserDirectoryEntry,
        DocumentShare => DocumentShare,
        Page => Page<User>,
        Value => serde_json::Value,
        // The vocabularies the screens label (what the types above use is exported anyway).
        UserType => domain::UserType,
        DocumentType => domain::DocumentType,
        DocumentSource => domain::DocumentSource,
        LogAction => domain::LogAction,
        LogStatus => domain::LogStatus,
        LinkApproval => domain::LinkApproval,
        ShareDelivery => domain::kinds::ShareDelivery,
    );
    let mut paths = BTreeMap::new();
    collect_paths(cfg.out_dir(), cfg.out_dir(), &mut paths);
    Generated { names, paths }
}

/// `Name` → `./dir/Name` for every declaration file written.
fn collect_paths(root: &Path, dir: &Path, paths: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir)
        .expect("bindings directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            collect_paths(root, &path, paths);
        } else if let Some(name) = path.file_stem().and_then(|n| n.to_str()) {
            let relative = path.strip_prefix(root).expect("inside").with_extension("");
            paths.insert(name.to_owned(), format!("./{}", relative.display()));
        }
    }
}

impl Generated {
    /// The TypeScript of a Rust type as a command signature writes it.
    fn ts(&self, ty: &syn::Type) -> Result<String, String> {
        let syn::Type::Path(path) = ty else {
            return match ty {
                syn::Type::Reference(r) => self.ts(&r.elem),
                syn::Type::Tuple(t) if t.elems.is_empty() => Ok("null".into()),
                _ => Err(quote_type(ty)),
            };
        };
        let last = path.path.segments.last().ok_or("empty path")?;
        let args: Vec<&syn::Type> = match &last.arguments {
            syn::PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|a| match a {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let name = last.ident.to_string();
        Ok(match (name.as_str(), args.as_slice()) {
            ("String" | "str" | "Uuid", []) => "string".into(),
            ("bool", []) => "boolean".into(),
            ("i64" | "i32" | "u32" | "u64" | "usize", []) => "number".into(),
            ("Option", [inner]) => format!("{} | null", self.ts(inner)?),
            ("Vec", [inner]) => format!("Array<{}>", self.ts(inner)?),
            ("Map", [_, value]) => format!("{{ [key in string]?: {} }}", self.ts(value)?),
            ("CommandResult", [inner]) => self.ts(inner)?,
            (other, args) => {
                let name =
                    self.names.get(other).cloned().ok_or_else(|| {
                        format!("{other} (derive ts_rs::TS and list it in `export`)")
                    })?;
                if args.is_empty() {
                    name
                } else {
                    let args: Vec<String> =
                        args.iter().map(|a| self.ts(a)).collect::<Result<_, _>>()?;
                    format!("{name}<{}>", args.join(", "))
                }
            }
        })
    }
}

fn quote_type(ty: &syn::Type) -> String {
    let syn::Type::Path(p) = ty else {
        return "a type that is not a path".into();
    };
    p.path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// A command as the UI calls it.
struct Command {
    name: String,
    doc: Option<String>,
    args: Vec<(String, String)>,
    result: String,
}

/// The `#[tauri::command]`s of `commands.rs`, their UI-side parameters and results.
fn commands(source: &str, generated: &Generated) -> Vec<Command> {
    let file = syn::parse_file(source).expect("commands.rs parses");
    let mut out = Vec::new();
    for item in file.items {
        let syn::Item::Fn(f) = item else { continue };
        if !f.attrs.iter().any(|a| is_command(a.path())) {
            continue;
        }
        let name = f.sig.ident.to_string();
        let mut args = Vec::new();
        for input in &f.sig.inputs {
            let syn::FnArg::Typed(arg) = input else {
                continue;
            };
            if shell_parameter(&arg.ty) {
                continue;
            }
            let syn::Pat::Ident(ident) = &*arg.pat else {
                panic!("{name}: parameters are plain names");
            };
            let ts = generated
                .ts(&arg.ty)
                .unwrap_or_else(|e| panic!("{name}({}): no TypeScript for {e}", ident.ident));
            // An `Option` may be left out: Tauri reads a missing argument as `None`.
            let optional = if ts.ends_with(" | null") { "?" } else { "" };
            args.push((format!("{}{optional}", ident.ident), ts));
        }
        let result = match &f.sig.output {
            syn::ReturnType::Default => "null".to_owned(),
            syn::ReturnType::Type(_, ty) => generated
                .ts(ty)
                .unwrap_or_else(|e| panic!("{name}: no TypeScript for its result {e}")),
        };
        let result = match PASSED_THROUGH.iter().find(|(c, _)| *c == name) {
            Some((_, shape)) => {
                assert!(
                    result.contains("JsonValue"),
                    "{name} returns a typed value now: drop it from PASSED_THROUGH"
                );
                result.replace("JsonValue", shape)
            }
            None => result,
        };
        out.push(Command {
            doc: doc_comment(&f.attrs),
            name,
            args,
            result,
        });
    }
    out
}

fn is_command(path: &syn::Path) -> bool {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    names == ["tauri", "command"]
}

fn shell_parameter(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p)
        if p.path.segments.last().is_some_and(|s| SHELL_PARAMETERS.contains(&s.ident.to_string().as_str())))
}

/// The doc comment, on one line.
fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// The command names `lib.rs` registers with `generate_handler!`.
fn registered(source: &str) -> BTreeSet<String> {
    let start = source
        .find("generate_handler![")
        .expect("lib.rs registers commands");
    let list = &source[start + "generate_handler![".len()..];
    let list = &list[..list.find(']').expect("closed")];
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.trim_start_matches("commands::").to_owned())
        .collect()
}

/// The `pub const NAME: Event<T>`s of `events.rs`, as (event name, TypeScript of `T`).
fn events(cfg: &Config) -> Vec<(&'static str, String)> {
    use crate::events::{Event, PULL_PROGRESS, STATUS, SYNC_PROGRESS, UPDATE_PROGRESS};
    fn entry<T: TS>(event: &Event<T>, cfg: &Config) -> (&'static str, String) {
        (event.name, T::name(cfg))
    }
    let listed = vec![
        entry(&STATUS, cfg),
        entry(&SYNC_PROGRESS, cfg),
        entry(&UPDATE_PROGRESS, cfg),
        entry(&PULL_PROGRESS, cfg),
    ];
    let declared = include_str!("events.rs").matches(": Event<").count();
    assert_eq!(
        listed.len(),
        declared,
        "every event of events.rs is listed here"
    );
    listed
}

fn config(out: &Path) -> Config {
    // JSON numbers: the app's counts and versions are far below 2^53.
    Config::new().with_large_int("number").with_out_dir(out)
}

fn commands_ts(commands: &[Command], events: &[(&str, String)], generated: &Generated) -> String {
    let mut body = String::new();
    body.push_str("export interface Commands {\n");
    for c in commands {
        if let Some(doc) = &c.doc {
            let _ = writeln!(body, "  /** {doc} */");
        }
        let args = if c.args.is_empty() {
            "Record<string, never>".to_owned()
        } else {
            let fields: Vec<String> = c.args.iter().map(|(n, t)| format!("{n}: {t}")).collect();
            format!("{{ {} }}", fields.join("; "))
        };
        let _ = writeln!(
            body,
            "  {}: {{ args: {args}; result: {} }};",
            c.name, c.result
        );
    }
    body.push_str("}\n\nexport interface Events {\n");
    for (name, payload) in events {
        let _ = writeln!(body, "  '{name}': {payload};");
    }
    body.push_str("}\n");
    // Import every generated name the tables use.
    let used: BTreeSet<&str> = body
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| generated.paths.contains_key(*w))
        .collect();
    let mut out = String::from(
        "// Generated by the desktop crate's tests (src-tauri/src/bindings.rs) from the\n\
         // commands' signatures and events.rs: do not edit.\n",
    );
    for name in used {
        let _ = writeln!(
            out,
            "import type {{ {name} }} from \"{}\";",
            generated.paths[name]
        );
    }
    out.push('\n');
    out.push_str(&body);
    out
}

/// Makes `target` hold exactly the files of `fresh`: changed ones rewritten, stale ones
/// removed (a type that is gone leaves no declaration behind).
fn mirror(fresh: &Path, target: &Path) {
    let mut wanted = BTreeSet::new();
    let mut stack = vec![fresh.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(fresh).expect("inside").to_path_buf();
            let to = target.join(&relative);
            let content = std::fs::read(&path).expect("read");
            if std::fs::read(&to).ok().as_deref() != Some(content.as_slice()) {
                std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
                std::fs::write(&to, content).expect("write");
            }
            wanted.insert(relative);
        }
    }
    let mut stack = vec![target.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !wanted.contains(path.strip_prefix(target).expect("inside")) {
                std::fs::remove_file(&path).expect("remove stale");
            }
        }
    }
}

#[test]
fn the_ui_bindings_are_generated_from_the_rust_types_and_command_signatures() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fresh = std::env::temp_dir().join(format!("bindings-{}", uuid::Uuid::now_v7().simple()));
    let cfg = config(&fresh);
    let generated = export(&cfg);
    let commands = commands(include_str!("commands.rs"), &generated);
    let names: BTreeSet<String> = commands.iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        registered(include_str!("lib.rs")),
        "the commands defined are the commands registered"
    );
    let sign_in = commands
        .iter()
        .find(|c| c.name == "sign_in")
        .expect("sign_in");
    assert_eq!(
        (sign_in.args.len(), sign_in.result.as_str()),
        (3, "AppStatus"),
        "the app's state and handle are no arguments of the UI's"
    );
    let events = events(&cfg);
    std::fs::write(
        fresh.join("commands.ts"),
        commands_ts(&commands, &events, &generated),
    )
    .expect("commands.ts");
    mirror(&fresh, &manifest.join("../ui/src/bindings"));
    std::fs::remove_dir_all(&fresh).expect("clean up");
}
