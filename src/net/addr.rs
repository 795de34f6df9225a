//! Socket addresses as the kernel sees them, and name resolution.
//!
//! [`SockAddr`] is a `sockaddr_storage` and its length. Ops that pass an
//! address to the kernel (connect, sendmsg) or get one back (accept,
//! recvmsg) keep it **boxed in their op data**, so it stays at one address
//! until the terminal CQE even if the op's future is dropped.
//!
//! [`ToSocketAddrs`] turns what a caller names into addresses: literal
//! addresses at once, host names through `getaddrinfo` on the blocking pool
//! ([`spawn_blocking`](crate::spawn_blocking)), never on the loop.

use std::ffi::OsStr;
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::Path;

/// A socket address in the kernel's layout.
#[derive(Clone)]
pub(crate) struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// Room for any address, for the kernel to fill.
    pub(crate) fn empty() -> SockAddr {
        SockAddr {
            // SAFETY: all-zero bytes are a valid sockaddr_storage.
            storage: unsafe { mem::zeroed() },
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    pub(crate) fn from_inet(addr: &SocketAddr) -> SockAddr {
        let mut out = SockAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for
                // every sockaddr type.
                unsafe { out.as_mut_ptr().cast::<libc::sockaddr_in>().write(sin) };
                out.len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above.
                unsafe { out.as_mut_ptr().cast::<libc::sockaddr_in6>().write(sin6) };
                out.len = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        out
    }

    /// A Unix address from the bytes of `sun_path`: a path, or an abstract
    /// name if `bytes` starts with a NUL.
    fn from_unix_bytes(bytes: &[u8]) -> io::Result<SockAddr> {
        let mut out = SockAddr::empty();
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        let sun = unsafe { &mut *out.as_mut_ptr().cast::<libc::sockaddr_un>() };
        // Paths are NUL-terminated; abstract names are counted exactly.
        let nul = usize::from(bytes.first().is_some_and(|&b| b != 0));
        if bytes.len() + nul > sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket path must be shorter than 108 bytes",
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let base = mem::offset_of!(libc::sockaddr_un, sun_path);
        out.len = (base + bytes.len() + nul) as libc::socklen_t;
        Ok(out)
    }

    pub(crate) fn from_path(path: &Path) -> io::Result<SockAddr> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.is_empty() || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket path must be non-empty and contain no NUL byte",
            ));
        }
        SockAddr::from_unix_bytes(bytes)
    }

    pub(crate) fn from_unix(addr: &UnixSocketAddr) -> io::Result<SockAddr> {
        if let Some(path) = addr.as_pathname() {
            SockAddr::from_path(path)
        } else if let Some(name) = addr.as_abstract_name() {
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            SockAddr::from_unix_bytes(&bytes)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an unnamed Unix socket address cannot be bound or connected to",
            ))
        }
    }

    pub(crate) fn family(&self) -> libc::c_int {
        libc::c_int::from(self.storage.ss_family)
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    pub(crate) fn len_mut(&mut self) -> &mut libc::socklen_t {
        &mut self.len
    }

    /// As an IP address.
    ///
    /// # Errors
    ///
    /// `InvalidData` if the family is not `AF_INET` or `AF_INET6`.
    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        match self.family() {
            libc::AF_INET if self.len as usize >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*self.as_ptr().cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
            }
            libc::AF_INET6 if self.len as usize >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*self.as_ptr().cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                let port = u16::from_be(sin6.sin6_port);
                Ok(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
            }
            family => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected an IP socket address, got family {family}"),
            )),
        }
    }

    /// As a Unix address (path, abstract name, or unnamed).
    ///
    /// # Errors
    ///
    /// `InvalidData` if the family is not `AF_UNIX`.
    pub(crate) fn to_unix(&self) -> io::Result<UnixSocketAddr> {
        let base = mem::offset_of!(libc::sockaddr_un, sun_path);
        if self.family() != libc::AF_UNIX && self.len as usize > 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "expected a Unix socket address, got family {}",
                    self.family()
                ),
            ));
        }
        // SAFETY: the storage holds a sockaddr_un (or zeroes, read as one).
        let sun = unsafe { &*self.as_ptr().cast::<libc::sockaddr_un>() };
        let n = (self.len as usize)
            .saturating_sub(base)
            .min(sun.sun_path.len());
        let path: Vec<u8> = sun.sun_path[..n].iter().map(|&c| c as u8).collect();
        match path.first() {
            // An empty path makes std's unnamed address.
            None => UnixSocketAddr::from_pathname(""),
            Some(0) => UnixSocketAddr::from_abstract_name(&path[1..]),
            Some(_) => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                UnixSocketAddr::from_pathname(Path::new(OsStr::from_bytes(&path[..end])))
            }
        }
    }

    /// The address `fd` is bound to (`getsockname`).
    pub(crate) fn local(fd: libc::c_int) -> io::Result<SockAddr> {
        let mut addr = SockAddr::empty();
        // SAFETY: `addr` has room for any address and its length says so.
        cvt(unsafe { libc::getsockname(fd, addr.as_mut_ptr(), &mut addr.len) })?;
        Ok(addr)
    }

    /// The address of `fd`'s peer (`getpeername`).
    pub(crate) fn peer(fd: libc::c_int) -> io::Result<SockAddr> {
        let mut addr = SockAddr::empty();
        // SAFETY: as above.
        cvt(unsafe { libc::getpeername(fd, addr.as_mut_ptr(), &mut addr.len) })?;
        Ok(addr)
    }
}

/// Turns a `-1` syscall return into the thread's errno.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// What can name the address(es) of a TCP or UDP peer: a [`SocketAddr`], an
/// `(ip, port)` pair, a `"host:port"` string, a `(host, port)` pair, or a
/// slice of addresses.
///
/// Literal addresses are used as they are; host names are resolved with
/// the system resolver on the blocking pool, so the loop never blocks on
/// DNS. Sealed: implemented by ringloop only.
pub trait ToSocketAddrs: sealed::Sealed {}

mod sealed {
    use super::Resolve;

    pub trait Sealed {
        fn resolve(&self) -> Resolve;
    }
}

/// Addresses known now, or a name to look up.
#[doc(hidden)]
pub enum Resolve {
    One(SocketAddr),
    Ready(Vec<SocketAddr>),
    Lookup(String),
}

macro_rules! ready_addr {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl sealed::Sealed for $t {
            fn resolve(&self) -> Resolve {
                Resolve::One(SocketAddr::from(*self))
            }
        }
    )*};
}

ready_addr!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn resolve(&self) -> Resolve {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Resolve::One(addr),
            Err(_) => Resolve::Lookup(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn resolve(&self) -> Resolve {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn resolve(&self) -> Resolve {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Resolve::One(SocketAddr::new(ip, self.1)),
            Err(_) => Resolve::Lookup(format!("{}:{}", self.0, self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn resolve(&self) -> Resolve {
        (self.0.as_str(), self.1).resolve()
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl sealed::Sealed for [SocketAddr] {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn resolve(&self) -> Resolve {
        (**self).resolve()
    }
}

/// Every address `addr` names, resolving host names on the blocking pool.
///
/// # Errors
///
/// The resolver's error; `InvalidInput` if it named no address.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    let addrs = match sealed::Sealed::resolve(addr) {
        Resolve::One(addr) => vec![addr],
        Resolve::Ready(addrs) => addrs,
        Resolve::Lookup(name) => lookup(name).await?,
    };
    if addrs.is_empty() {
        return Err(no_address());
    }
    Ok(addrs)
}

/// The first address `addr` names; a literal address costs no allocation
/// (for `send_to`, where this runs per datagram).
///
/// # Errors
///
/// As for [`resolve`].
pub(crate) async fn resolve_first<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<SocketAddr> {
    match sealed::Sealed::resolve(addr) {
        Resolve::One(addr) => Ok(addr),
        Resolve::Ready(addrs) => addrs.first().copied().ok_or_else(no_address),
        Resolve::Lookup(name) => lookup(name).await?.first().copied().ok_or_else(no_address),
    }
}

/// `getaddrinfo` on the blocking pool.
async fn lookup(name: String) -> io::Result<Vec<SocketAddr>> {
    crate::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect::<Vec<_>>)
    })
    .await
    .map_err(|e| io::Error::other(format!("name resolution failed: {e}")))?
}

fn no_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to nothing",
    )
}
