//! Conversions between the WIT types and `virt-core`'s, and error constructors.

use crate::types::{Error, TypedParam, TypedValue, Uuid};
use virt_core::{ErrorDomain, ErrorNumber};

/// VIR_ERR_NO_SUPPORT for libvirt API `api`.
pub fn no_support(api: &str) -> Error {
    virt_core::Error::no_support(ErrorDomain::NONE, api).into()
}

/// A `virt-core` result as an exported call returns it.
pub fn wit<T>(result: virt_core::Result<T>) -> Result<T, Error> {
    result.map_err(Into::into)
}

/// libvirt's check of an API's flags (`virCheckFlags`), reported in the driver's `domain`.
pub fn check_flags(domain: ErrorDomain, flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    wit(virt_core::Error::check_flags(domain, flags, allowed, api))
}

/// An error with libvirt's message template filled with `detail`.
pub fn error(code: ErrorNumber, domain: ErrorDomain, detail: impl AsRef<str>) -> Error {
    virt_core::Error::new(code, domain, detail).into()
}

impl From<virt_core::Error> for Error {
    fn from(error: virt_core::Error) -> Self {
        Error {
            code: error.code().0,
            domain: error.domain().0,
            message: error.message().to_string(),
        }
    }
}

impl From<Error> for virt_core::Error {
    fn from(error: Error) -> Self {
        virt_core::Error::from_parts(
            ErrorNumber(error.code),
            ErrorDomain(error.domain),
            error.message,
        )
    }
}

impl From<virt_core::Uuid> for Uuid {
    fn from(uuid: virt_core::Uuid) -> Self {
        let (hi, lo) = uuid.as_u64_pair();
        Uuid { hi, lo }
    }
}

impl From<Uuid> for virt_core::Uuid {
    fn from(uuid: Uuid) -> Self {
        virt_core::Uuid::from_u64_pair(uuid.hi, uuid.lo)
    }
}

impl From<virt_core::TypedParam> for TypedParam {
    fn from(param: virt_core::TypedParam) -> Self {
        use virt_core::TypedValue as V;
        let value = match param.value {
            V::Int(v) => TypedValue::Int(v),
            V::UInt(v) => TypedValue::Uint(v),
            V::LLong(v) => TypedValue::Llong(v),
            V::ULLong(v) => TypedValue::Ullong(v),
            V::Double(v) => TypedValue::Double(v),
            V::Boolean(v) => TypedValue::Boolean(v),
            V::String(v) => TypedValue::String(v),
        };
        TypedParam {
            field: param.field,
            value,
        }
    }
}

impl From<TypedParam> for virt_core::TypedParam {
    fn from(param: TypedParam) -> Self {
        use virt_core::TypedValue as V;
        let value = match param.value {
            TypedValue::Int(v) => V::Int(v),
            TypedValue::Uint(v) => V::UInt(v),
            TypedValue::Llong(v) => V::LLong(v),
            TypedValue::Ullong(v) => V::ULLong(v),
            TypedValue::Double(v) => V::Double(v),
            TypedValue::Boolean(v) => V::Boolean(v),
            TypedValue::String(v) => V::String(v),
        };
        virt_core::TypedParam {
            field: param.field,
            value,
        }
    }
}
