//! The expansion of `#[roost::main]` and `#[roost::test]`.
//!
//! For `async fn name() -> R { body }` both produce
//!
//! ```text
//! fn name() -> R {
//!     let body = async move { body };
//!     #[allow(clippy::expect_used)]
//!     let output = ::roost::runtime::Builder::new()
//!         .worker_threads(N)        // if given (test: 1 by default)
//!         .pin_workers(B)           // if given (test: false by default)
//!         .run(body)
//!         .expect("roost: failed to start the runtime");
//!     output
//! }
//! ```
//!
//! (the result is bound to a local so that the `allow`, which lets crates
//! that deny `clippy::expect_used` accept the expansion, sits on a
//! statement), and `#[roost::test]` puts `#[::core::prelude::v1::test]` first. The
//! function keeps its attributes, visibility, name and return type; the body
//! keeps its tokens, so errors in it point at the user's code. `Builder::run`
//! drives the future on the calling thread as worker 0, so neither the body
//! nor `R` need be `Send`.
//!
//! On a mistake the expansion is the error, spanned at the offending token,
//! plus an item that keeps follow-up errors few: the function with the
//! default options after a bad option, the function unchanged after a bad
//! signature.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::ItemFn;

use crate::options::{Kind, Options};

/// Expands `item` under the attribute `kind(args)`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(e) => return with_error(item, e),
    };
    if let Err(e) = check_signature(kind, &function) {
        return with_error(item, e);
    }
    match Options::parse(kind, args) {
        Ok(options) => generate(kind, function, options),
        Err(e) => with_error(generate(kind, function, Options::defaults(kind)), e),
    }
}

fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#error #item)
}

/// The function must be `async` and take no arguments; a test must not
/// carry a second test attribute.
fn check_signature(kind: Kind, function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            format!(
                "the `async` keyword is missing from the function declaration: {} runs an `async fn`",
                kind.attribute()
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        let what = match kind {
            Kind::Main => "the main function",
            Kind::Test => "a test function",
        };
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            format!("{what} cannot take arguments ({})", kind.attribute()),
        ));
    }
    if kind == Kind::Test {
        if let Some(attr) = function.attrs.iter().find(|a| is_test_attribute(a.path())) {
            return Err(syn::Error::new_spanned(
                attr,
                "a second test attribute: #[roost::test] already makes the function a #[test]",
            ));
        }
    }
    Ok(())
}

/// `#[test]`, `#[core::prelude::v1::test]` and the like, or another crate's
/// `#[..::test]` (tokio's, say).
fn is_test_attribute(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "test")
}

fn generate(kind: Kind, function: ItemFn, options: Options) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    sig.asyncness = None;
    let Options {
        worker_threads,
        pin_workers,
        crate_path,
    } = options;
    let worker_threads = worker_threads.map(|n| quote!(.worker_threads(#n)));
    let pin_workers = pin_workers.map(|b| quote!(.pin_workers(#b)));
    let test_attribute = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));
    // Spanned at the body's closing brace: a body whose value does not fit
    // the return type is reported at its end, as for a plain fn.
    let run = quote_spanned! {block.brace_token.span.close()=>
        #[allow(clippy::expect_used)]
        let output = #crate_path::runtime::Builder::new()
            #worker_threads
            #pin_workers
            .run(body)
            .expect("roost: failed to start the runtime");
        output
    };
    let mut out = TokenStream::new();
    test_attribute.to_tokens(&mut out);
    for attr in &attrs {
        attr.to_tokens(&mut out);
    }
    out.extend(quote! {
        #vis #sig {
            let body = async move #block;
            #run
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expand_to_string(kind: Kind, args: TokenStream, item: TokenStream) -> String {
        expand(kind, args, item).to_string()
    }

    /// Token streams printed without spaces, where `> >` and `>>` differ
    /// only by spacing.
    fn squash(s: impl ToString) -> String {
        s.to_string().replace(' ', "")
    }

    #[test]
    fn main_expands_to_builder_run_with_its_options() {
        let out = expand_to_string(
            Kind::Main,
            quote!(worker_threads = 4, pin_workers = false),
            quote! {
                /// Docs stay.
                #[allow(unused)]
                pub async fn main() -> Result<(), Box<dyn std::error::Error>> { Ok(()) }
            },
        );
        let want = quote! {
            #[doc = r" Docs stay."]
            #[allow(unused)]
            pub fn main() -> Result<(), Box<dyn std::error::Error>> {
                let body = async move { Ok(()) };
                #[allow(clippy::expect_used)]
                let output = ::roost::runtime::Builder::new()
                    .worker_threads(4)
                    .pin_workers(false)
                    .run(body)
                    .expect("roost: failed to start the runtime");
                output
            }
        };
        assert_eq!(squash(out), squash(want));
    }

    #[test]
    fn test_adds_the_test_attribute_and_its_defaults() {
        let out = expand_to_string(
            Kind::Test,
            quote!(crate = "my_roost"),
            quote!(
                async fn works() {}
            ),
        );
        let want = quote! {
            #[::core::prelude::v1::test]
            fn works() {
                let body = async move {};
                #[allow(clippy::expect_used)]
                let output = my_roost::runtime::Builder::new()
                    .worker_threads(1)
                    .pin_workers(false)
                    .run(body)
                    .expect("roost: failed to start the runtime");
                output
            }
        };
        assert_eq!(squash(out), squash(want));
    }

    #[test]
    fn bad_signatures_are_compile_errors_plus_the_item() {
        let out = expand_to_string(
            Kind::Main,
            quote!(),
            quote!(
                fn main() {}
            ),
        );
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.contains("the `async` keyword is missing"), "{out}");
        assert!(out.ends_with("fn main () { }"), "{out}");
        let out = expand_to_string(
            Kind::Test,
            quote!(),
            quote!(
                async fn t(x: u8) {}
            ),
        );
        assert!(out.contains("a test function cannot take arguments"), "{out}");
        let out = expand_to_string(
            Kind::Test,
            quote!(),
            quote!(
                #[test]
                async fn t() {}
            ),
        );
        assert!(out.contains("a second test attribute"), "{out}");
        let out = expand_to_string(
            Kind::Main,
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
    }

    #[test]
    fn a_bad_option_still_expands_the_function_with_defaults() {
        let out = expand_to_string(
            Kind::Main,
            quote!(threads = 2),
            quote!(
                async fn main() {}
            ),
        );
        assert!(out.contains("unknown option `threads`"), "{out}");
        assert!(out.contains("fn main () { let body = async move { } ;"), "{out}");
    }
}
