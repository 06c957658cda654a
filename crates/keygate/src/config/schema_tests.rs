//! docs/keygate.schema.json stays true to the file's serde types, to docs/config.md and to
//! examples/keygate.yaml.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::SCHEMA;
use crate::config::file::FileConfig;

/// One step from a schema node to a node below it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A field of an object.
    Field(String),
    /// An element of an array.
    Item,
}

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("the schema is JSON")
}

fn repository_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// `node` with its `$ref` followed.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            resolve(root, root.pointer(pointer).expect("the reference resolves"))
        }
        None => node,
    }
}

/// The object variant of a node that may be written several ways (`upstream`).
fn object_variant<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let node = resolve(root, node);
    if node.get("properties").is_some() {
        return Some(node);
    }
    node.get("oneOf")?
        .as_array()?
        .iter()
        .map(|variant| resolve(root, variant))
        .find(|variant| variant.get("properties").is_some())
}

/// Every object with named fields in the schema, with the path that leads to it.
fn objects(root: &Value) -> Vec<(Vec<Step>, &Value)> {
    fn walk<'a>(
        root: &'a Value,
        node: &'a Value,
        path: Vec<Step>,
        found: &mut Vec<(Vec<Step>, &'a Value)>,
    ) {
        let node = resolve(root, node);
        // A field written several ways (`proxy.listen`: an address or a list) may have a
        // list among them.
        let lists = node
            .get("oneOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(Some(node))
            .filter_map(|variant| variant.get("items"));
        for items in lists {
            let mut below = path.clone();
            below.push(Step::Item);
            walk(root, items, below, found);
        }
        let Some(object) = object_variant(root, node) else {
            return;
        };
        for (name, field) in object["properties"].as_object().expect("properties") {
            let mut below = path.clone();
            below.push(Step::Field(name.clone()));
            walk(root, field, below, found);
        }
        found.push((path, object));
    }
    let mut found = Vec::new();
    walk(root, root, Vec::new(), &mut found);
    found
}

fn property_names(object: &Value) -> BTreeSet<String> {
    object["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

/// A document that holds `leaf` at `path` and nothing else.
fn document_at(path: &[Step], leaf: Value) -> Value {
    path.iter().rev().fold(leaf, |inner, step| match step {
        Step::Field(name) => json!({ name: inner }),
        Step::Item => json!([inner]),
    })
}

/// The fields serde accepts in the object at `path`, as its "unknown field" error lists
/// them: the set the Rust types define, whatever the schema says.
fn serde_fields_at(path: &[Step]) -> BTreeSet<String> {
    let document = document_at(path, json!({ "zz_not_a_field": 0 }));
    // JSON is YAML: the document goes through the file's own parser and types.
    let error = serde_saphyr::from_str::<FileConfig>(&document.to_string())
        .map(|_| ())
        .expect_err("an unknown field is an error")
        .to_string();
    let expected = error
        .split_once("zz_not_a_field`, expected ")
        .unwrap_or_else(|| panic!("at {path:?}: not an unknown-field error: {error}"))
        .1;
    // `one of a, b, c` or `` `a` ``, up to the position the parser appends.
    let expected = expected.lines().next().unwrap_or_default();
    let expected = expected.split(" at line ").next().unwrap_or_default();
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    // Two fields read `` `a` or `b` ``; more, `` `a`, `b`, `c` ``.
    expected
        .split(", ")
        .flat_map(|names| names.split(" or "))
        .map(|name| name.trim_matches('`').to_owned())
        .collect()
}

#[test]
fn every_object_has_the_fields_of_its_serde_type() {
    let root = schema();
    let objects = objects(&root);
    assert!(objects.len() >= 14, "{} objects", objects.len());
    for (path, object) in &objects {
        assert_eq!(
            property_names(object),
            serde_fields_at(path),
            "schema fields (left) differ from the file's serde type (right) at {path:?}"
        );
    }
}

#[test]
fn every_object_denies_unknown_fields_as_the_file_does() {
    let root = schema();
    for (path, object) in objects(&root) {
        assert_eq!(
            object.get("additionalProperties"),
            Some(&Value::Bool(false)),
            "at {path:?}"
        );
    }
}

/// A document with every field of the schema filled in with a value of its type.
fn every_field(root: &Value, node: &Value) -> Value {
    let node = resolve(root, node);
    if let Some(object) = object_variant(root, node) {
        let fields: Map<String, Value> = object["properties"]
            .as_object()
            .expect("properties")
            .iter()
            .map(|(name, field)| (name.clone(), every_field(root, field)))
            .collect();
        return Value::Object(fields);
    }
    if let Some(first) = node.get("enum").and_then(|values| values.get(0)) {
        return first.clone();
    }
    // Written several ways, none of them an object: the list way, where there is one.
    if let Some(variants) = node.get("oneOf").and_then(Value::as_array) {
        let chosen = variants
            .iter()
            .find(|variant| variant.get("items").is_some())
            .or(variants.first())
            .expect("a variant");
        return every_field(root, chosen);
    }
    match node["type"].as_str() {
        Some("array") => json!([every_field(root, &node["items"])]),
        Some("object") => {
            // A map: one entry, named as the schema allows, of the type it takes.
            let name = node
                .pointer("/propertyNames/enum/0")
                .and_then(Value::as_str)
                .unwrap_or("label");
            match node.get("additionalProperties") {
                Some(values) if values.is_object() => json!({ name: every_field(root, values) }),
                _ => json!({ name: "value" }),
            }
        }
        Some("string") => json!("text"),
        Some("integer") => node.get("minimum").cloned().unwrap_or(json!(1)),
        Some("boolean") => json!(true),
        other => panic!("no sample for type {other:?} in {node}"),
    }
}

#[test]
fn a_document_with_every_schema_field_has_the_types_the_file_reads() {
    let root = schema();
    let document = every_field(&root, &root);
    assert!(document["services"][0]["upstream"]["targets"].is_array());
    if let Err(error) = serde_saphyr::from_str::<FileConfig>(&document.to_string()) {
        panic!("{error}\n{document:#}");
    }
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&schema()).expect("a valid draft-07 schema")
}

fn example() -> Value {
    serde_saphyr::from_str(&repository_file("examples/keygate.yaml")).expect("YAML")
}

#[test]
fn the_example_configuration_is_valid() {
    let validator = validator();
    let errors: Vec<String> = validator
        .iter_errors(&example())
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Changes a valid document into one with a mistake.
type Spoil = fn(&mut Value);

#[test]
fn mistakes_the_loader_refuses_are_schema_errors_too() {
    let validator = validator();
    let mistakes: [(&str, Spoil); 5] = [
        ("a misspelt field", |doc| {
            doc["proxy"]["listne"] = json!("x")
        }),
        ("an unknown auth", |doc| {
            doc["services"][0]["routes"][0]["auth"] = json!("sometimes");
        }),
        ("a key and a hash", |doc| {
            doc["consumers"][1]["keys"][0]["key"] = json!("both-key-and-hash");
        }),
        ("two key sources in one", |doc| {
            doc["services"][0]["key_sources"][0]["cookie"] = json!("c");
        }),
        ("a duration without unit", |doc| {
            doc["proxy"]["header_timeout"] = json!("30");
        }),
    ];
    for (what, spoil) in mistakes {
        let mut document = example();
        spoil(&mut document);
        assert!(!validator.is_valid(&document), "{what} passed the schema");
        let yaml = serde_json::to_string(&document).expect("JSON");
        assert!(
            crate::config::build::build(&yaml).is_err(),
            "{what} passed the loader: the schema is stricter than keygate"
        );
    }
}

/// docs/config.md's sections with a field table, and where each is in the schema.
fn documented_sections() -> Vec<(&'static str, Vec<Step>)> {
    let field = |name: &str| Step::Field(name.to_owned());
    vec![
        ("## `proxy`", vec![field("proxy")]),
        (
            "### `listen`",
            vec![field("proxy"), field("listen"), Step::Item],
        ),
        ("## `tls`", vec![field("proxy"), field("tls")]),
        (
            "### `certificates`",
            vec![
                field("proxy"),
                field("tls"),
                field("certificates"),
                Step::Item,
            ],
        ),
        ("## `http2`", vec![field("proxy"), field("http2")]),
        ("## `authz`", vec![field("authz")]),
        ("## `cluster`", vec![field("cluster")]),
        ("## `quotas`", vec![field("quotas")]),
        ("## `usage`", vec![field("usage")]),
        ("## `dns`", vec![field("dns")]),
        ("## `admin`", vec![field("admin")]),
        ("## `defaults`", vec![field("defaults")]),
        ("## `services`", vec![field("services"), Step::Item]),
        (
            "### `upstream`",
            vec![field("services"), Step::Item, field("upstream")],
        ),
        (
            "#### Target entries",
            vec![
                field("services"),
                Step::Item,
                field("upstream"),
                field("targets"),
                Step::Item,
            ],
        ),
        (
            "## `routes`",
            vec![field("services"), Step::Item, field("routes"), Step::Item],
        ),
        (
            "### `limits`",
            vec![field("services"), Step::Item, field("limits"), Step::Item],
        ),
        (
            "### `cors`",
            vec![field("services"), Step::Item, field("cors")],
        ),
        (
            "### `responses`",
            vec![field("services"), Step::Item, field("responses")],
        ),
        (
            "## Key sources",
            vec![field("defaults"), field("key_sources"), Step::Item],
        ),
        ("## `consumers`", vec![field("consumers"), Step::Item]),
        (
            "### `keys`",
            vec![field("consumers"), Step::Item, field("keys"), Step::Item],
        ),
        (
            "## `subscriptions`",
            vec![field("subscriptions"), Step::Item],
        ),
    ]
}

/// The object at `path`, its fields with those of nested objects written `a.b`. An
/// object shared through a definition (`tls`) is one field: it has a section of its own.
fn flat_fields_at(root: &Value, path: &[Step]) -> BTreeSet<String> {
    let (_, object) = objects(root)
        .into_iter()
        .find(|(at, _)| at == path)
        .unwrap_or_else(|| panic!("no object at {path:?}"));
    let mut fields = BTreeSet::new();
    for (name, field) in object["properties"].as_object().expect("properties") {
        let shared =
            field.get("$ref").is_some() && resolve(root, field).get("properties").is_some();
        let field = if shared { field } else { resolve(root, field) };
        match field.get("properties").and_then(Value::as_object) {
            Some(nested) => fields.extend(nested.keys().map(|inner| format!("{name}.{inner}"))),
            None => {
                fields.insert(name.clone());
            }
        }
    }
    fields
}

/// The first-column names of each field table in docs/config.md, by section heading.
fn config_md_tables() -> Vec<(String, BTreeSet<String>)> {
    let mut tables: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut heading = String::new();
    for line in repository_file("docs/config.md").lines() {
        if line.starts_with('#') {
            heading = line.trim().to_owned();
            continue;
        }
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        // The first cell names one field or several (`` `service`, `plan` ``); `header:
        // NAME` in the key source table names the field `header`.
        let cell = cell.split(" |").next().expect("a cell");
        let names = cell
            .split(", `")
            .map(|name| name.split(['`', ':']).next().expect("a name").to_owned());
        match tables.last_mut() {
            Some((at, known)) if *at == heading => known.extend(names),
            _ => tables.push((heading.clone(), names.collect())),
        }
    }
    tables
}

#[test]
fn every_table_of_config_md_lists_the_schema_fields_of_its_section() {
    let root = schema();
    let sections = documented_sections();
    let tables = config_md_tables();
    assert!(tables.len() >= sections.len(), "{tables:?}");
    for (heading, documented) in tables {
        let (_, path) = sections
            .iter()
            .find(|(section, _)| *section == heading)
            .unwrap_or_else(|| panic!("docs/config.md: table under {heading} not mapped here"));
        assert_eq!(
            documented,
            flat_fields_at(&root, path),
            "docs/config.md (left) and the schema (right) differ under {heading}"
        );
    }
}

#[test]
fn every_schema_field_is_named_in_config_md() {
    let root = schema();
    let docs = repository_file("docs/config.md");
    for (path, object) in objects(&root) {
        for name in property_names(object) {
            assert!(
                [
                    format!("`{name}`"),
                    format!("`{name}:"),
                    format!("`{name}."),
                    format!(".{name}`"),
                ]
                .iter()
                .any(|form| docs.contains(form.as_str())),
                "docs/config.md never names `{name}` (at {path:?})"
            );
        }
    }
}
