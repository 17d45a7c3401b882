//! `#[derive(XmlElement)]`: turns a struct whose fields are listed in libvirt's canonical order
//! into a parser (from virt-xml's transient node tree) and a formatter (to virt-xml's writer).
//!
//! It owns only the mapping from field annotations to calls into `virt_xml::xml`; every rule
//! about values, errors and indentation lives in that module, not here.
//!
//! Field annotations (one per field):
//! - `#[xml(attr)]` / `#[xml(attr = "name")]`: an attribute (`Option<T: XmlValue>`).
//! - `#[xml(child)]` / `#[xml(child = "name")]`: child element(s) (`Option<T>`, `Vec<T>`,
//!   `Option<Box<T>>` with `T: XmlElement`).
//! - `#[xml(text_child = "name")]`: `<name>value</name>` (`Option<T: XmlValue>` or `Vec<T>`).
//! - `#[xml(flag = "name")]`: an empty element whose presence is the value (`bool`).
//! - `#[xml(text)]`: the element's own text (`Option<T: XmlValue>`).
//! - `#[xml(flatten)]`: another `XmlElement` whose attributes and children are inlined here.
//! - `#[xml(skip)]`: not part of the XML (filled in by hand or by a hook).
//!
//! Struct annotations: `#[xml(omit_empty)]` drops the element when it has neither attributes
//! nor content (libvirt's `virXMLFormatElement`); `#[xml(expanded)]` writes an empty element
//! as `<x>` and `</x>` on two lines; `#[xml(validate = "path")]` calls
//! `path(&mut Self, &Node) -> Result<()>` after the fields are read.
//! Field names default to the Rust field name for `attr`/`child`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields, LitStr};

enum FieldKind {
    Attr(String),
    Child(String),
    TextChild(String),
    Flag(String),
    Text,
    Flatten,
    Skip,
}

#[proc_macro_derive(XmlElement, attributes(xml))]
pub fn derive_xml_element(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let mut omit_empty = false;
    let mut expanded = false;
    let mut validate: Option<syn::Path> = None;
    for attr in &input.attrs {
        if !attr.path().is_ident("xml") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("omit_empty") {
                omit_empty = true;
                Ok(())
            } else if meta.path.is_ident("expanded") {
                expanded = true;
                Ok(())
            } else if meta.path.is_ident("validate") {
                let path: LitStr = meta.value()?.parse()?;
                validate = Some(path.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown struct-level xml option"))
            }
        })?;
    }

    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            input,
            "XmlElement derives only on structs",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            input,
            "XmlElement needs named fields",
        ));
    };

    let mut inits = Vec::new();
    let mut attr_writes = Vec::new();
    let mut body_writes = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let rust_name = ident.to_string();
        let rust_name = rust_name.trim_start_matches("r#").to_string();
        let mut kind = None;
        for attr in &field.attrs {
            if !attr.path().is_ident("xml") {
                continue;
            }
            attr.parse_nested_meta(|meta| {
                let optional_name = |meta: &syn::meta::ParseNestedMeta| -> syn::Result<String> {
                    if meta.input.peek(syn::Token![=]) {
                        let lit: LitStr = meta.value()?.parse()?;
                        Ok(lit.value())
                    } else {
                        Ok(rust_name.clone())
                    }
                };
                let required_name = |meta: &syn::meta::ParseNestedMeta| -> syn::Result<String> {
                    let lit: LitStr = meta.value()?.parse()?;
                    Ok(lit.value())
                };
                kind = Some(if meta.path.is_ident("attr") {
                    FieldKind::Attr(optional_name(&meta)?)
                } else if meta.path.is_ident("child") {
                    FieldKind::Child(optional_name(&meta)?)
                } else if meta.path.is_ident("text_child") {
                    FieldKind::TextChild(optional_name(&meta)?)
                } else if meta.path.is_ident("flag") {
                    FieldKind::Flag(required_name(&meta)?)
                } else if meta.path.is_ident("text") {
                    FieldKind::Text
                } else if meta.path.is_ident("flatten") {
                    FieldKind::Flatten
                } else if meta.path.is_ident("skip") {
                    FieldKind::Skip
                } else {
                    return Err(meta.error("unknown field-level xml option"));
                });
                Ok(())
            })?;
        }
        let Some(kind) = kind else {
            return Err(syn::Error::new_spanned(
                field,
                "field needs an #[xml(...)] annotation",
            ));
        };
        let xml = quote!(::virt_xml::xml);
        match kind {
            FieldKind::Attr(xml_name) => {
                inits.push(quote!(#ident: #xml::AttrField::parse_attr(node, #xml_name)?));
                attr_writes.push(quote!(#xml::AttrField::write_attr(&self.#ident, w, #xml_name);));
            }
            FieldKind::Child(xml_name) => {
                inits.push(quote!(#ident: #xml::ChildField::parse_child(node, #xml_name)?));
                body_writes
                    .push(quote!(#xml::ChildField::write_child(&self.#ident, w, #xml_name);));
            }
            FieldKind::TextChild(xml_name) => {
                inits
                    .push(quote!(#ident: #xml::TextChildField::parse_text_child(node, #xml_name)?));
                body_writes.push(
                    quote!(#xml::TextChildField::write_text_child(&self.#ident, w, #xml_name);),
                );
            }
            FieldKind::Flag(xml_name) => {
                inits.push(quote!(#ident: node.child(#xml_name).is_some()));
                body_writes.push(quote!(if self.#ident { w.empty_element(#xml_name); }));
            }
            FieldKind::Text => {
                inits.push(quote!(#ident: #xml::TextField::parse_text(node)?));
                body_writes.push(quote!(#xml::TextField::write_text(&self.#ident, w);));
            }
            FieldKind::Flatten => {
                inits.push(quote!(#ident: #xml::XmlElement::from_node(node)?));
                attr_writes.push(quote!(#xml::XmlElement::write_attrs(&self.#ident, w);));
                body_writes.push(quote!(#xml::XmlElement::write_body(&self.#ident, w);));
            }
            FieldKind::Skip => {
                inits.push(quote!(#ident: ::core::default::Default::default()));
            }
        }
    }

    let empty_style = if omit_empty {
        quote!(::virt_xml::xml::EmptyStyle::Omit)
    } else if expanded {
        quote!(::virt_xml::xml::EmptyStyle::Expanded)
    } else {
        quote!(::virt_xml::xml::EmptyStyle::SelfClose)
    };
    let validate_call = validate.map(|path| quote!(#path(&mut value, node)?;));
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::virt_xml::xml::XmlElement for #name #type_generics #where_clause {
            fn from_node(node: &::virt_xml::xml::Node<'_>) -> ::virt_xml::Result<Self> {
                #[allow(unused_mut)]
                let mut value = Self { #(#inits,)* };
                #validate_call
                Ok(value)
            }

            fn write_attrs(&self, w: &mut ::virt_xml::xml::Writer) {
                let _ = &w;
                #(#attr_writes)*
            }

            fn write_body(&self, w: &mut ::virt_xml::xml::Writer) {
                let _ = &w;
                #(#body_writes)*
            }

            fn empty_style() -> ::virt_xml::xml::EmptyStyle {
                #empty_style
            }
        }
    })
}
