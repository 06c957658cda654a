//! The names an expression may use: variables, their members, and functions.

use crate::check::Value;
use crate::compile::{Cond, Num, SetKind, Text};

/// Every variable, in the order they are listed in messages.
pub(crate) const VARIABLES: &[&str] = &[
    "clientType",
    "consumer",
    "groups",
    "permissions",
    "metadata",
    "key",
    "plan",
    "subscription",
    "request",
    "isBackoffice",
    "credits",
    "quota",
];

/// What a variable is.
pub(crate) fn variable(name: &str) -> Option<Value> {
    Some(match name {
        "clientType" => Value::Text(Text::ClientType),
        "consumer" => Value::Text(Text::Consumer),
        "groups" => Value::Set(SetKind::Groups),
        "permissions" => Value::Set(SetKind::Permissions),
        "metadata" => Value::Map(MapKind::Metadata),
        "key" => Value::Object(ObjectKind::Key),
        "plan" => Value::Text(Text::Plan),
        "subscription" => Value::Text(Text::Subscription),
        "request" => Value::Object(ObjectKind::Request),
        "isBackoffice" => Value::Bool(Cond::IsBackoffice),
        "credits" => Value::NumFact(Num::Credits),
        "quota" => Value::Object(ObjectKind::Quota),
        _ => return None,
    })
}

/// A map from names to optional strings; any member name may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapKind {
    Metadata,
    KeyLabels,
    Headers,
    Query,
}

impl MapKind {
    /// The lookup of `name` in this map. Header names are lowercased here, once, so that
    /// evaluation can pass them straight to [`crate::Facts::header`].
    pub(crate) fn get(self, name: &str) -> Text {
        let name: Box<str> = name.into();
        match self {
            MapKind::Metadata => Text::Metadata(name),
            MapKind::KeyLabels => Text::KeyLabel(name),
            MapKind::Headers => Text::Header(name.to_ascii_lowercase().into()),
            MapKind::Query => Text::Query(name),
        }
    }
}

/// An object with a fixed set of members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Key,
    Request,
    Quota,
}

impl ObjectKind {
    /// The member names, for messages and suggestions.
    pub(crate) fn members(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Key => &["id", "labels"],
            ObjectKind::Request => &[
                "method",
                "path",
                "host",
                "headers",
                "query",
                "tls",
                "clientCertificate",
            ],
            ObjectKind::Quota => &["remaining"],
        }
    }

    /// What member `name` is, if it exists.
    pub(crate) fn member(self, name: &str) -> Option<Value> {
        Some(match (self, name) {
            (ObjectKind::Key, "id") => Value::Text(Text::KeyId),
            (ObjectKind::Key, "labels") => Value::Map(MapKind::KeyLabels),
            (ObjectKind::Request, "method") => Value::Text(Text::Method),
            (ObjectKind::Request, "path") => Value::Text(Text::Path),
            (ObjectKind::Request, "host") => Value::Text(Text::Host),
            (ObjectKind::Request, "headers") => Value::Map(MapKind::Headers),
            (ObjectKind::Request, "query") => Value::Map(MapKind::Query),
            (ObjectKind::Request, "tls") => Value::Bool(Cond::Tls),
            (ObjectKind::Request, "clientCertificate") => Value::Bool(Cond::ClientCertificate),
            (ObjectKind::Quota, "remaining") => Value::NumFact(Num::QuotaRemaining),
            _ => return None,
        })
    }
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    StartsWith,
    EndsWith,
    Contains,
    Matches,
}

/// Every function name, in the order they are listed in messages.
pub(crate) const FUNCTIONS: &[&str] = &["startsWith", "endsWith", "contains", "matches"];

impl Function {
    /// The function called `name`, if any.
    pub(crate) fn named(name: &str) -> Option<Function> {
        Some(match name {
            "startsWith" => Function::StartsWith,
            "endsWith" => Function::EndsWith,
            "contains" => Function::Contains,
            "matches" => Function::Matches,
            _ => return None,
        })
    }

    /// How it is called, for messages.
    pub(crate) fn signature(self) -> &'static str {
        match self {
            Function::StartsWith => "startsWith(s, prefix)",
            Function::EndsWith => "endsWith(s, suffix)",
            Function::Contains => "contains(s, sub) or contains(list, x)",
            Function::Matches => "matches(s, 'regex')",
        }
    }

    /// How many arguments it takes (all functions take two).
    pub(crate) fn arity(self) -> usize {
        2
    }
}
