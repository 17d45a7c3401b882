//! Checking typed parameters the way libvirt's `virTypedParamsValidate` does.

use std::collections::BTreeSet;

use virt_core::{Error, ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::{TypedParam, TypedValue};

/// A `virTypedParameterType`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    UInt,
    ULLong,
    Boolean,
    String,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::UInt => "uint",
            Kind::ULLong => "ullong",
            Kind::Boolean => "boolean",
            Kind::String => "string",
        }
    }

    fn matches(self, value: &TypedValue) -> bool {
        matches!(
            (self, value),
            (Kind::Int, TypedValue::Int(_))
                | (Kind::UInt, TypedValue::Uint(_))
                | (Kind::ULLong, TypedValue::Ullong(_))
                | (Kind::Boolean, TypedValue::Boolean(_))
                | (Kind::String, TypedValue::String(_))
        )
    }
}

/// A parameter of `field` holding `value`.
pub(crate) fn param(field: &str, value: TypedValue) -> TypedParam {
    TypedParam {
        field: field.to_string(),
        value,
    }
}

fn type_name(value: &TypedValue) -> &'static str {
    match value {
        TypedValue::Int(_) => "int",
        TypedValue::Uint(_) => "uint",
        TypedValue::Llong(_) => "llong",
        TypedValue::Ullong(_) => "ullong",
        TypedValue::Double(_) => "double",
        TypedValue::Boolean(_) => "boolean",
        TypedValue::String(_) => "string",
    }
}

/// Each parameter must be one of `allowed`, of its type, and appear once.
pub(crate) fn validate(params: &[TypedParam], allowed: &[(&str, Kind)]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for param in params {
        if !seen.insert(param.field.as_str()) {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                format!("parameter '{}' occurs multiple times", param.field),
            ));
        }
        let Some((_, kind)) = allowed.iter().find(|(name, _)| *name == param.field) else {
            return Err(Error::new(
                ErrorNumber::ARGUMENT_UNSUPPORTED,
                ErrorDomain::NONE,
                format!("parameter '{}' not supported", param.field),
            ));
        };
        if !kind.matches(&param.value) {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                format!(
                    "invalid type '{}' for parameter '{}', expected '{}'",
                    type_name(&param.value),
                    param.field,
                    kind.name()
                ),
            ));
        }
    }
    Ok(())
}
