//! The options of `#[roost::main(..)]` and `#[roost::test(..)]`, parsed from
//! the attribute's arguments, and the defaults of each macro.
//!
//! The syntax is tokio's: `name = value` pairs separated by commas. Every
//! error carries the span of the token it is about, so that the compiler
//! points at the option, not at the macro.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Lit, LitBool, LitInt, LitStr, Path};

/// Which macro is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// The attribute as a user writes it, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[roost::main]",
            Kind::Test => "#[roost::test]",
        }
    }
}

/// What the expansion passes to the runtime builder. `None` leaves the
/// builder's default.
#[derive(Clone)]
pub(crate) struct Options {
    /// `Builder::worker_threads`, the user's literal (for its span).
    pub(crate) worker_threads: Option<LitInt>,
    /// `Builder::pin_workers`.
    pub(crate) pin_workers: Option<LitBool>,
    /// The path of the roost crate; `::roost` unless `crate = ".."`.
    pub(crate) crate_path: Path,
}

impl Options {
    /// The defaults of `kind`: the builder's own for `main` (one pinned
    /// worker per core), one unpinned worker for `test`.
    pub(crate) fn defaults(kind: Kind) -> Self {
        let (worker_threads, pin_workers) = match kind {
            Kind::Main => (None, None),
            Kind::Test => (
                Some(LitInt::new("1", Span::call_site())),
                Some(LitBool::new(false, Span::call_site())),
            ),
        };
        Self {
            worker_threads,
            pin_workers,
            crate_path: syn::parse_quote!(::roost),
        }
    }

    /// Parses the attribute's arguments for `kind`.
    ///
    /// # Errors
    ///
    /// An unknown option, an option given twice, a value of the wrong type
    /// or out of range, or a `flavor` that contradicts `worker_threads`.
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Self> {
        let mut given = Given::default();
        syn::meta::parser(|meta| given.option(kind, meta)).parse2(args)?;
        given.resolve(kind)
    }
}

/// The tokio runtime flavours, accepted so that ported attributes compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// roost's only kind of runtime: the builder's worker count.
    MultiThread,
    /// One worker.
    CurrentThread,
}

/// The options as written, before defaults apply.
#[derive(Default)]
struct Given {
    worker_threads: Option<LitInt>,
    pin_workers: Option<LitBool>,
    crate_path: Option<Path>,
    flavor: Option<(Flavor, Span)>,
}

impl Given {
    fn option(&mut self, kind: Kind, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let name = meta.path.to_token_stream().to_string().replace(' ', "");
        match name.as_str() {
            "worker_threads" => {
                let lit = value(&meta, &name, "an integer, e.g. `worker_threads = 4`")?;
                let Lit::Int(n) = lit else {
                    return Err(wrong_type(&lit, &name, "an integer, e.g. `worker_threads = 4`"));
                };
                if n.base10_parse::<usize>()? == 0 {
                    return Err(syn::Error::new(n.span(), "`worker_threads` must be at least 1"));
                }
                set_once(&mut self.worker_threads, n, &meta, &name)
            }
            "pin_workers" => {
                let lit = value(&meta, &name, "`true` or `false`")?;
                let Lit::Bool(b) = lit else {
                    return Err(wrong_type(&lit, &name, "`true` or `false`"));
                };
                set_once(&mut self.pin_workers, b, &meta, &name)
            }
            "crate" => {
                let lit = value(&meta, &name, "a path in a string, e.g. `crate = \"my_roost\"`")?;
                let Lit::Str(s) = lit else {
                    return Err(wrong_type(
                        &lit,
                        &name,
                        "a path in a string, e.g. `crate = \"my_roost\"`",
                    ));
                };
                let path = parse_path(&s)?;
                set_once(&mut self.crate_path, path, &meta, &name)
            }
            "flavor" => {
                let expected = "`\"multi_thread\"` or `\"current_thread\"`";
                let lit = value(&meta, &name, expected)?;
                let Lit::Str(s) = &lit else {
                    return Err(wrong_type(&lit, &name, expected));
                };
                let flavor = match s.value().as_str() {
                    "multi_thread" => Flavor::MultiThread,
                    "current_thread" => Flavor::CurrentThread,
                    other => {
                        return Err(syn::Error::new(
                            s.span(),
                            format!("unknown flavor `{other}`: expected {expected}"),
                        ))
                    }
                };
                set_once(&mut self.flavor, (flavor, s.span()), &meta, &name)
            }
            _ => Err(meta.error(format!(
                "unknown option `{name}` for {}; the options are `worker_threads = N`, \
                 `pin_workers = true|false`, `flavor = \"multi_thread\"|\"current_thread\"` \
                 and `crate = \"path\"`",
                kind.attribute()
            ))),
        }
    }

    fn resolve(self, kind: Kind) -> syn::Result<Options> {
        let mut options = Options::defaults(kind);
        match self.flavor {
            Some((Flavor::CurrentThread, span)) => {
                if let Some(n) = &self.worker_threads {
                    let mut err = syn::Error::new(
                        n.span(),
                        "`worker_threads` contradicts `flavor = \"current_thread\"` (one worker)",
                    );
                    err.combine(syn::Error::new(span, "the flavor is given here"));
                    return Err(err);
                }
                options.worker_threads = Some(LitInt::new("1", span));
            }
            // tokio's multi-thread default: as many workers as cores.
            Some((Flavor::MultiThread, _)) => options.worker_threads = None,
            None => {}
        }
        if let Some(n) = self.worker_threads {
            options.worker_threads = Some(n);
        }
        if let Some(b) = self.pin_workers {
            options.pin_workers = Some(b);
        }
        if let Some(path) = self.crate_path {
            options.crate_path = path;
        }
        Ok(options)
    }
}

/// The literal after `name =`.
fn value(meta: &ParseNestedMeta<'_>, name: &str, expected: &str) -> syn::Result<Lit> {
    let input = meta
        .value()
        .map_err(|e| syn::Error::new(e.span(), format!("`{name}` takes a value: `{name} = ` {expected}")))?;
    input
        .parse::<Lit>()
        .map_err(|e| syn::Error::new(e.span(), format!("`{name}` takes {expected}")))
}

fn wrong_type(lit: &Lit, name: &str, expected: &str) -> syn::Error {
    syn::Error::new(lit.span(), format!("`{name}` takes {expected}"))
}

fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{name}` is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_path(s: &LitStr) -> syn::Result<Path> {
    s.parse_with(Path::parse_mod_style)
        .map_err(|_| syn::Error::new(s.span(), format!("`crate` takes a path, and {:?} is none", s.value())))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse(kind: Kind, args: TokenStream) -> syn::Result<Options> {
        Options::parse(kind, args)
    }

    fn workers(o: &Options) -> Option<usize> {
        o.worker_threads.as_ref().map(|n| n.base10_parse().unwrap())
    }

    fn pinned(o: &Options) -> Option<bool> {
        o.pin_workers.as_ref().map(|b| b.value)
    }

    fn path(o: &Options) -> String {
        o.crate_path.to_token_stream().to_string()
    }

    #[test]
    fn main_defaults_leave_the_builder_alone() {
        let o = parse(Kind::Main, quote!()).unwrap();
        assert_eq!((workers(&o), pinned(&o)), (None, None));
        assert_eq!(path(&o), ":: roost");
    }

    #[test]
    fn test_defaults_to_one_unpinned_worker() {
        let o = parse(Kind::Test, quote!()).unwrap();
        assert_eq!((workers(&o), pinned(&o)), (Some(1), Some(false)));
    }

    #[test]
    fn every_option_is_read() {
        let o = parse(
            Kind::Main,
            quote!(worker_threads = 4, pin_workers = false, crate = "my::roost"),
        )
        .unwrap();
        assert_eq!((workers(&o), pinned(&o)), (Some(4), Some(false)));
        assert_eq!(path(&o), "my :: roost");
        let o = parse(Kind::Main, quote!(crate = "crate::reexported")).unwrap();
        assert_eq!(path(&o), "crate :: reexported");
        let o = parse(Kind::Test, quote!(worker_threads = 2, pin_workers = true,)).unwrap();
        assert_eq!((workers(&o), pinned(&o)), (Some(2), Some(true)));
    }

    #[test]
    fn tokio_flavors_map_to_worker_counts() {
        let o = parse(Kind::Main, quote!(flavor = "current_thread")).unwrap();
        assert_eq!(workers(&o), Some(1));
        let o = parse(Kind::Test, quote!(flavor = "multi_thread")).unwrap();
        assert_eq!((workers(&o), pinned(&o)), (None, Some(false)));
        let o = parse(Kind::Test, quote!(flavor = "multi_thread", worker_threads = 3)).unwrap();
        assert_eq!(workers(&o), Some(3));
    }

    fn error(kind: Kind, args: TokenStream) -> String {
        match parse(kind, args) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = error(Kind::Main, quote!(start_paused = true));
        assert!(
            unknown.starts_with("unknown option `start_paused` for #[roost::main]"),
            "{unknown}"
        );
        assert_eq!(
            error(Kind::Test, quote!(worker_threads = "two")),
            "`worker_threads` takes an integer, e.g. `worker_threads = 4`"
        );
        assert_eq!(
            error(Kind::Test, quote!(worker_threads = 0)),
            "`worker_threads` must be at least 1"
        );
        assert_eq!(
            error(Kind::Main, quote!(pin_workers = 1)),
            "`pin_workers` takes `true` or `false`"
        );
        assert_eq!(
            error(Kind::Main, quote!(pin_workers)),
            "`pin_workers` takes a value: `pin_workers = ` `true` or `false`"
        );
        assert_eq!(
            error(Kind::Main, quote!(worker_threads = 1, worker_threads = 2)),
            "`worker_threads` is given twice"
        );
        assert_eq!(
            error(Kind::Main, quote!(crate = "not a path")),
            "`crate` takes a path, and \"not a path\" is none"
        );
        assert_eq!(
            error(Kind::Main, quote!(flavor = "local")),
            "unknown flavor `local`: expected `\"multi_thread\"` or `\"current_thread\"`"
        );
        assert!(error(Kind::Main, quote!(flavor = "current_thread", worker_threads = 2)).contains("contradicts"));
    }
}
