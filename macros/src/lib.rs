//! `#[ringloop::main]` and `#[ringloop::test]`: attribute macros that run an
//! `async fn` on a ringloop runtime. Use them through the `ringloop` crate,
//! which re-exports both; this crate is an implementation detail.
//!
//! # What they expand to
//!
//! The annotated `async fn` is kept, unchanged and renamed, as an inner
//! function; the generated synchronous function builds a runtime and runs
//! it with `block_on`. Keeping the `async fn` whole (instead of pasting its
//! body into an `async` block) keeps its return type, so `?` and `return`
//! work in the body exactly as they did.
//!
//! ```text
//! #[ringloop::main]                     fn main() -> io::Result<()> {
//! async fn main() -> io::Result<()> {       async fn __ringloop_body() -> io::Result<()> { BODY }
//!     BODY                       ==>        ::ringloop::__private::block_on(
//! }                                             ::ringloop::Driver::Auto, None, __ringloop_body)
//!                                       }
//! ```
//!
//! # Arguments
//!
//! Both take `driver = "auto" | "uring" | "epoll"` (default `auto`: the
//! `RINGLOOP_DRIVER` environment variable, then io_uring with the epoll
//! fallback), `entries = N` (the ring's submission queue size) and
//! `crate = "path"` (where `ringloop` is, if renamed). `#[ringloop::test]`
//! also takes:
//!
//! * `driver = "both"`: the test becomes a module of two tests, `NAME::uring`
//!   and `NAME::epoll`, each on its own runtime of that driver. The module
//!   imports its parent's names (`use super::*`).
//! * `timeout = SECS`: the test runs on a thread of its own and fails with
//!   "did not finish within SECS s" if it has not finished by then (the
//!   thread is left behind; the test binary ends it when it exits). Its
//!   output must then be `Send`.
//!
//! Other attributes on the function (`#[should_panic]`, `#[ignore]`, doc
//! comments) are kept on every generated test.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, ItemFn, LitInt, LitStr, Path, ReturnType};

/// Runs `async fn main` on a ringloop runtime.
///
/// ```ignore
/// #[ringloop::main]
/// async fn main() -> std::io::Result<()> {
///     ringloop::nop().await
/// }
/// ```
///
/// Arguments: `driver = "auto" | "uring" | "epoll"`, `entries = N`,
/// `crate = "path"`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Runs an `async fn` test on a ringloop runtime built for the test.
///
/// ```ignore
/// #[ringloop::test(driver = "both", timeout = 10)]
/// async fn a_nop_completes() -> std::io::Result<()> {
///     ringloop::nop().await
/// }
/// ```
///
/// Arguments: `driver = "auto" | "uring" | "epoll" | "both"`, `timeout =
/// SECS`, `entries = N`, `crate = "path"`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DriverArg {
    Auto,
    Uring,
    Epoll,
    Both,
}

struct Args {
    driver: DriverArg,
    entries: Option<LitInt>,
    timeout: Option<LitInt>,
    krate: Path,
}

fn parse_args(kind: Kind, args: TokenStream2) -> syn::Result<Args> {
    let mut parsed = Args {
        driver: DriverArg::Auto,
        entries: None,
        timeout: None,
        krate: syn::parse_quote!(::ringloop),
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("driver") {
            let lit: LitStr = meta.value()?.parse()?;
            parsed.driver = match (lit.value().as_str(), kind) {
                ("auto", _) => DriverArg::Auto,
                ("uring", _) => DriverArg::Uring,
                ("epoll", _) => DriverArg::Epoll,
                ("both", Kind::Test) => DriverArg::Both,
                ("both", Kind::Main) => {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`driver = \"both\"` is for #[ringloop::test]; main runs once",
                    ))
                }
                _ => {
                    return Err(syn::Error::new(
                        lit.span(),
                        "expected \"auto\", \"uring\", \"epoll\" (or \"both\" for a test)",
                    ))
                }
            };
            Ok(())
        } else if meta.path.is_ident("entries") {
            let lit: LitInt = meta.value()?.parse()?;
            lit.base10_parse::<u32>()?;
            parsed.entries = Some(lit);
            Ok(())
        } else if meta.path.is_ident("timeout") && kind == Kind::Test {
            let lit: LitInt = meta.value()?.parse()?;
            if lit.base10_parse::<u64>()? == 0 {
                return Err(syn::Error::new(
                    lit.span(),
                    "the timeout is in seconds, > 0",
                ));
            }
            parsed.timeout = Some(lit);
            Ok(())
        } else if meta.path.is_ident("crate") {
            let lit: LitStr = meta.value()?.parse()?;
            parsed.krate = lit.parse()?;
            Ok(())
        } else {
            let known = match kind {
                Kind::Main => "`driver`, `entries`, `crate`",
                Kind::Test => "`driver`, `timeout`, `entries`, `crate`",
            };
            Err(meta.error(format!("unknown argument; expected one of {known}")))
        }
    });
    parser.parse2(args)?;
    Ok(parsed)
}

fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_args(kind, args)?;
    let func: ItemFn = syn::parse2(item)?;
    check_signature(kind, &func)?;

    let krate = &args.krate;
    let name = &func.sig.ident;
    let vis = &func.vis;
    let ret = &func.sig.output;
    let attrs = &func.attrs;
    // The user's `async fn`, renamed: its signature keeps `?` and `return`
    // typed exactly as written.
    let mut body_fn = func.clone();
    body_fn.attrs.retain(|a| a.path().is_ident("allow"));
    body_fn.vis = syn::Visibility::Inherited;
    body_fn.sig.ident = format_ident!("__ringloop_body");
    let entries = match &args.entries {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let run = |driver: TokenStream2| match &args.timeout {
        None => quote! {
            #krate::__private::block_on(#driver, #entries, __ringloop_body)
        },
        Some(secs) => quote! {
            #krate::__private::block_on_with_timeout(#driver, #entries, #secs, __ringloop_body)
        },
    };
    let driver_path = |d: DriverArg| -> TokenStream2 {
        match d {
            DriverArg::Auto => quote!(#krate::Driver::Auto),
            DriverArg::Uring => quote!(#krate::Driver::Uring),
            DriverArg::Epoll => quote!(#krate::Driver::Epoll),
            DriverArg::Both => unreachable!("expanded as two tests"),
        }
    };
    let test_attr = quote_spanned!(func.sig.fn_token.span()=> #[::core::prelude::v1::test]);
    let outer_attrs = outer_attrs(attrs);

    Ok(match (kind, args.driver) {
        (Kind::Main, driver) => {
            let call = run(driver_path(driver));
            quote! {
                #(#outer_attrs)*
                #vis fn #name() #ret {
                    #body_fn
                    #call
                }
            }
        }
        (Kind::Test, DriverArg::Both) => {
            let uring = run(driver_path(DriverArg::Uring));
            let epoll = run(driver_path(DriverArg::Epoll));
            let docs = attrs.iter().filter(|a| a.path().is_ident("doc"));
            quote! {
                #(#docs)*
                #vis mod #name {
                    #[allow(unused_imports)]
                    use super::*;

                    #body_fn

                    /// The test on the io_uring driver.
                    #test_attr
                    #(#outer_attrs)*
                    pub(super) fn uring() #ret {
                        #uring
                    }

                    /// The test on the epoll driver.
                    #test_attr
                    #(#outer_attrs)*
                    pub(super) fn epoll() #ret {
                        #epoll
                    }
                }
            }
        }
        (Kind::Test, driver) => {
            let call = run(driver_path(driver));
            quote! {
                #test_attr
                #(#outer_attrs)*
                #vis fn #name() #ret {
                    #body_fn
                    #call
                }
            }
        }
    })
}

/// The attributes that stay on the generated function(s): everything but
/// a `#[test]` the user may have added too (it would make a second test).
fn outer_attrs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|a| !a.path().is_ident("test"))
        .collect()
}

fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let what = match kind {
        Kind::Main => "#[ringloop::main]",
        Kind::Test => "#[ringloop::test]",
    };
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!("{what} goes on an `async fn`: the `async` keyword is missing"),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            format!("{what} functions take no arguments"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("{what} functions cannot be generic"),
        ));
    }
    if kind == Kind::Main && sig.ident != "main" {
        return Err(syn::Error::new(
            sig.ident.span(),
            "#[ringloop::main] goes on `async fn main`",
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if let syn::Type::ImplTrait(_) = **ty {
            return Err(syn::Error::new(
                ty.span(),
                format!("{what} functions cannot return `impl Trait`"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // `#[test]` here would name this crate's own `test` macro.
    use super::*;

    fn error(kind: Kind, args: TokenStream2, item: TokenStream2) -> String {
        match expand(kind, args, item) {
            Ok(out) => panic!("expected an error, expanded to {out}"),
            Err(e) => e.to_string(),
        }
    }

    #[::core::prelude::v1::test]
    fn a_missing_async_is_named() {
        let e = error(
            Kind::Test,
            quote!(),
            quote!(
                fn t() {}
            ),
        );
        assert!(e.contains("the `async` keyword is missing"), "{e}");
    }

    #[::core::prelude::v1::test]
    fn arguments_generics_and_unknown_options_are_refused() {
        let e = error(
            Kind::Test,
            quote!(),
            quote!(
                async fn t(x: u32) {}
            ),
        );
        assert!(e.contains("take no arguments"), "{e}");
        let e = error(
            Kind::Test,
            quote!(),
            quote!(
                async fn t<T>() {}
            ),
        );
        assert!(e.contains("cannot be generic"), "{e}");
        let e = error(
            Kind::Test,
            quote!(threads = 4),
            quote!(
                async fn t() {}
            ),
        );
        assert!(e.contains("unknown argument"), "{e}");
        let e = error(
            Kind::Test,
            quote!(driver = "io_uring"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(e.contains("expected \"auto\""), "{e}");
        let e = error(
            Kind::Test,
            quote!(timeout = 0),
            quote!(
                async fn t() {}
            ),
        );
        assert!(e.contains("> 0"), "{e}");
    }

    #[::core::prelude::v1::test]
    fn main_runs_once_and_only_on_main() {
        let e = error(
            Kind::Main,
            quote!(driver = "both"),
            quote!(
                async fn main() {}
            ),
        );
        assert!(e.contains("main runs once"), "{e}");
        let e = error(
            Kind::Main,
            quote!(timeout = 5),
            quote!(
                async fn main() {}
            ),
        );
        assert!(e.contains("unknown argument"), "{e}");
        let e = error(
            Kind::Main,
            quote!(),
            quote!(
                async fn serve() {}
            ),
        );
        assert!(e.contains("goes on `async fn main`"), "{e}");
    }

    #[::core::prelude::v1::test]
    fn driver_both_expands_to_a_module_with_one_test_per_driver() {
        let out = expand(
            Kind::Test,
            quote!(driver = "both", timeout = 3),
            quote!(
                async fn works() {}
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("mod works"), "{out}");
        assert!(out.contains("fn uring ()"), "{out}");
        assert!(out.contains("fn epoll ()"), "{out}");
        assert!(out.contains("Driver :: Uring"), "{out}");
        assert!(out.contains("Driver :: Epoll"), "{out}");
        assert!(out.contains("block_on_with_timeout"), "{out}");
    }

    #[::core::prelude::v1::test]
    fn crate_renames_the_path_of_every_call() {
        let out = expand(
            Kind::Main,
            quote!(crate = "rl"),
            quote!(
                async fn main() {}
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("rl :: __private :: block_on"), "{out}");
        assert!(!out.contains(":: ringloop"), "{out}");
    }
}
